"""Checks that read the live database's statistics and state (PostgreSQL only): unused
indexes, sequential scans, sequences, wraparound, long sessions and lock_timeout."""

from __future__ import annotations

import datetime

from django_prodkit.checks.indexes import fixes
from django_prodkit.checks.indexes.coverage import covering
from django_prodkit.checks.indexes.inspection import Inspection, live_indexes
from django_prodkit.conf import IndexesSettings

_NO_TIMEOUT = frozenset({"0", "0ms", "0s", "0min", "0h", "0d"})
_WRAPAROUND = 2**31


def run_operational(inspection: Inspection, options: IndexesSettings) -> None:
    state = inspection.catalog.state
    if state is None:
        return
    age = state.now - state.stats_since if state.stats_since else None
    since = (
        f"{'the statistics reset' if state.stats_reset else 'the server start'} at "
        f"{state.stats_since:%Y-%m-%d %H:%M} UTC ({_hours(age)} ago)"
        if state.stats_since is not None and age is not None
        else "an unknown time"
    )
    fresh = age is not None and age < datetime.timedelta(
        hours=options.stats_min_age_hours
    )
    if fresh:
        inspection.skipped.append(
            f"unused indexes and sequential scans: the statistics count from "
            f"{since}, younger than INDEXES.STATS_MIN_AGE_HOURS "
            f"({options.stats_min_age_hours:g})"
        )
    else:
        _unused(inspection, options, since)
        _seq_scans(inspection, options, since)
    _sequences(inspection, options)
    _xid_age(inspection, options)
    _sessions(inspection, options)
    _lock_timeout(inspection)


def _hours(delta: datetime.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def _size(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{size / 1024:.0f} kB"


def _unused(inspection: Inspection, options: IndexesSettings, since: str) -> None:
    sole_covers = set()
    for fk in inspection.catalog.foreign_keys:
        covers = covering(inspection, fk)
        if len(covers) == 1:
            sole_covers.add((fk.table, covers[0].name))
    floor = options.unused_min_size_mb * 1024 * 1024
    for index in live_indexes(inspection):
        key = (index.table, index.name or "")
        if (
            index.scans != 0
            or index.name is None
            or not index.valid
            or index.unique
            or index.primary
            or index.constraint
            or key in inspection.reported
            or (index.table, index.name) in sole_covers
            or (index.size or 0) < floor
        ):
            continue
        sql = fixes.drop(inspection.connection, index)
        declared = inspection.matched.get(key)
        inspection.add(
            "unused",
            index.table,
            columns=index.columns,
            index=index.name,
            message=(
                f"Index {index.name} on {index.table} ({_size(index.size or 0)}) has "
                f"not been scanned on this node since {since}."
            ),
            hint=(
                "Statistics are per server: check the replicas before dropping it, "
                "and keep it if a rare job (a monthly report) needs it."
            ),
            fix_sql=sql,
            fix_operation=fixes.removal(inspection.connection, declared, sql),
        )


def _seq_scans(inspection: Inspection, options: IndexesSettings, since: str) -> None:
    floor = options.seq_scan_min_rows
    for stats in inspection.catalog.table_stats:
        scans = stats.seq_scans + stats.index_scans
        if (
            stats.live_rows < floor
            or stats.seq_rows <= floor
            or not scans
            or stats.index_scans >= 0.95 * scans
        ):
            continue
        inspection.add(
            "seq_scans",
            stats.table,
            message=(
                f"Table {stats.table} ({stats.live_rows} rows) was read by "
                f"{stats.seq_scans} sequential scans ({stats.seq_rows} rows in all) "
                f"and {stats.index_scans} index scans on this node since {since}."
            ),
            hint=(
                "Find the queries that scan it (the slow-query log, "
                "pg_stat_statements) and index the columns they filter on."
            ),
            fix_operation=(
                "Add a models.Index on the filtered columns to Meta.indexes; migrate "
                "with AddIndexConcurrently in a migration with atomic = False."
            ),
        )


def _sequences(inspection: Inspection, options: IndexesSettings) -> None:
    for use in inspection.catalog.sequences:
        ratio = use.last_value / use.max_value if use.max_value else 0
        if ratio < options.sequence_ratio:
            continue
        table = fixes.quote(inspection.connection, use.table)
        column = fixes.quote(inspection.connection, use.column)
        sequence = fixes.quote(inspection.connection, use.sequence)
        inspection.add(
            "sequence",
            use.table,
            columns=(use.column,),
            index=use.sequence,
            message=(
                f"Sequence {use.sequence} of {use.table}.{use.column} ({use.type}) has "
                f"used {ratio:.0%} of its range ({use.last_value} of {use.max_value}): "
                "inserts fail once it runs out."
            ),
            hint=(
                "Move the column (and the foreign keys that point to it) to bigint; "
                "the ALTER rewrites the table, so plan it."
            ),
            fix_sql=(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bigint; "
                f"ALTER SEQUENCE {sequence} AS bigint;"
            ),
            fix_operation=(
                "Make the primary key a BigAutoField (and set DEFAULT_AUTO_FIELD); "
                "makemigrations writes the AlterField."
            ),
        )


def _xid_age(inspection: Inspection, options: IndexesSettings) -> None:
    state = inspection.catalog.state
    assert state is not None
    if state.xid_age < options.xid_age:
        return
    inspection.add(
        "xid_age",
        None,
        message=(
            f"Database {state.name} is {state.xid_age} transactions past its oldest "
            f"frozen transaction ID, {state.xid_age / _WRAPAROUND:.0%} of the way to "
            "wraparound, where PostgreSQL stops accepting writes."
        ),
        hint=(
            "Make sure autovacuum can freeze the oldest tables: look for long "
            "transactions, stale replication slots and prepared transactions."
        ),
        fix_sql="VACUUM (FREEZE, VERBOSE);",
        fix_operation="None: run VACUUM outside migrations.",
    )


def _sessions(inspection: Inspection, options: IndexesSettings) -> None:
    for session in inspection.catalog.sessions:
        inspection.add(
            "long_session",
            None,
            index=None,
            message=(
                f"Session {session.pid} ({session.user}"
                + (f", {session.application}" if session.application else "")
                + f") has been {session.state} for {session.seconds:.0f} s: a "
                "migration's lock would wait behind it, and every query behind the "
                "migration."
            ),
            hint=(
                "Let it finish or end it before migrating; set "
                "idle_in_transaction_session_timeout against forgotten transactions."
            ),
            fix_sql=f"SELECT pg_terminate_backend({session.pid});",
            fix_operation="None: end the session before running migrate.",
        )


def _lock_timeout(inspection: Inspection) -> None:
    state = inspection.catalog.state
    assert state is not None
    if state.lock_timeout.strip().lower() not in _NO_TIMEOUT:
        return
    alias = inspection.alias
    inspection.add(
        "lock_timeout",
        None,
        message=(
            f"Database '{alias}' runs without lock_timeout: a migration waiting for "
            "a lock held by a long transaction queues every query on that table "
            "behind it."
        ),
        hint=(
            "Give migrations a lock_timeout, so that they fail fast and can be "
            "retried: in DATABASES OPTIONS, or for the role that migrates."
        ),
        fix_sql="ALTER ROLE CURRENT_USER SET lock_timeout = '5s';",
        fix_operation=(
            f"DATABASES['{alias}']['OPTIONS'] = "
            "{'options': '-c lock_timeout=5000'} in the settings used by migrate."
        ),
    )
