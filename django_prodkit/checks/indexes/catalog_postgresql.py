"""The PostgreSQL catalog: a fixed handful of queries, whatever the number of tables.

Tables are looked up on the connection's ``search_path`` (``pg_table_is_visible``), so
the schema Django writes to is the one inspected.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from django_prodkit.checks.indexes.catalog import (
    Catalog,
    Constraint,
    DatabaseState,
    ForeignKey,
    SequenceUse,
    Session,
    TableStats,
)
from django_prodkit.checks.indexes.definitions import IndexDef, Key, normalize_sql

_TABLES = """
SELECT c.oid, c.relname, COALESCE(s.seq_scan, 0), COALESCE(s.seq_tup_read, 0),
       COALESCE(s.idx_scan, 0), COALESCE(s.n_live_tup, 0)
FROM pg_class c
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p') AND c.relname = ANY(%s) AND pg_table_is_visible(c.oid)
"""

# Per key: the column (NULL for an expression), the expression, a non-default operator
# class, a collation other than the column's, and indoption (1 = DESC, 2 = NULLS FIRST).
# pg_get_indexdef(oid, k, false) alone drops operator classes and collations.
_INDEXES = """
SELECT t.relname, i.relname, am.amname, x.indisunique, x.indisprimary,
       x.indisvalid AND x.indisready, x.indnkeyatts, pg_get_expr(x.indpred, x.indrelid),
       {nulls_not_distinct}, con.contype, pg_relation_size(x.indexrelid),
       pg_stat_get_numscans(x.indexrelid),
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
               WHERE p.index_relid = x.indexrelid),
       (SELECT json_agg(json_build_object(
            'column', a.attname,
            'expression', CASE WHEN k.attnum = 0
                THEN pg_get_indexdef(x.indexrelid, k.n::int, false) END,
            'opclass', CASE WHEN oc.opcdefault THEN NULL ELSE oc.opcname END,
            'collation', CASE
                WHEN co.oid IS NULL THEN NULL
                WHEN k.attnum <> 0 AND co.oid = a.attcollation THEN NULL
                WHEN k.attnum = 0 AND co.collname = 'default' THEN NULL
                ELSE co.collname END,
            'option', x.indoption[(k.n - 1)::int]
        ) ORDER BY k.n)
        FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
        LEFT JOIN pg_opclass oc
            ON oc.oid = x.indclass[(k.n - 1)::int] AND k.n <= x.indnkeyatts
        LEFT JOIN pg_collation co
            ON co.oid = x.indcollation[(k.n - 1)::int] AND k.n <= x.indnkeyatts)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_am am ON am.oid = i.relam
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid
    AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE x.indrelid = ANY(%s::oid[])
"""

_CONSTRAINTS = """
SELECT t.relname, c.conname, c.contype, c.convalidated,
       ARRAY(SELECT a.attname
             FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY k.n),
       r.relname
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
LEFT JOIN pg_class r ON r.oid = c.confrelid
WHERE c.conrelid = ANY(%s::oid[]) AND (c.contype = 'f' OR NOT c.convalidated)
"""

_STATE = """
SELECT current_database(), current_setting('lock_timeout'), age(d.datfrozenxid),
       s.stats_reset, pg_postmaster_start_time(), clock_timestamp()
FROM pg_database d
LEFT JOIN pg_stat_database s ON s.datid = d.oid
WHERE d.datname = current_database()
"""

# Sequences owned by a column (serial, deptype 'a') or behind an identity column ('i').
_SEQUENCES = """
SELECT t.relname, a.attname, s.relname, format_type(a.atttypid, NULL),
       ps.last_value, ps.max_value
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace n ON n.oid = s.relnamespace
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
JOIN pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = s.relname
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND t.oid = ANY(%s::oid[])
  AND ps.last_value IS NOT NULL
"""

_SESSIONS = """
SELECT pid, COALESCE(usename, ''), COALESCE(application_name, ''), COALESCE(state, ''),
       EXTRACT(EPOCH FROM clock_timestamp() - COALESCE(xact_start, query_start))::float
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend' AND state IS DISTINCT FROM 'idle'
  AND COALESCE(xact_start, query_start) < clock_timestamp() - make_interval(secs => %s)
ORDER BY 5 DESC
"""

_TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


def read(
    connection: BaseDatabaseWrapper,
    tables: Collection[str],
    *,
    statistics: bool,
    long_session_seconds: float,
) -> Catalog:
    catalog = Catalog()
    version = connection.pg_version  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(_TABLES, [sorted(tables)])
        oids: list[int] = []
        for oid, name, seq_scans, seq_rows, index_scans, live in cursor.fetchall():
            oids.append(oid)
            catalog.tables.add(name)
            catalog.table_stats.append(
                TableStats(
                    table=name,
                    seq_scans=seq_scans,
                    seq_rows=seq_rows,
                    index_scans=index_scans,
                    live_rows=live,
                )
            )
        nnd = "x.indnullsnotdistinct" if version >= 150000 else "false"
        cursor.execute(_INDEXES.format(nulls_not_distinct=nnd), [oids])
        for row in cursor.fetchall():
            index = _index(row)
            catalog.indexes.append(index)
            if row[12]:
                catalog.building.add(row[1])
        cursor.execute(_CONSTRAINTS, [oids])
        for table, name, kind, validated, columns, target in cursor.fetchall():
            if kind == "f":
                catalog.foreign_keys.append(
                    ForeignKey(
                        table=table, name=name, columns=tuple(columns), target=target
                    )
                )
            if not validated:
                catalog.not_valid.append(
                    Constraint(
                        table=table,
                        name=name,
                        type="foreign key" if kind == "f" else "check",
                    )
                )
        if not statistics:
            return catalog
        cursor.execute(_STATE)
        name, lock_timeout, xid_age, reset, started, now = cursor.fetchone()
        catalog.state = DatabaseState(
            name=name,
            lock_timeout=lock_timeout,
            xid_age=int(xid_age),
            stats_since=reset or started,
            stats_reset=reset is not None,
            now=now,
        )
        cursor.execute(_SEQUENCES, [oids])
        for table, column, sequence, type_, last, maximum in cursor.fetchall():
            catalog.sequences.append(
                SequenceUse(
                    table=table,
                    column=column,
                    sequence=sequence,
                    type=type_,
                    last_value=int(last),
                    max_value=min(int(maximum), _TYPE_MAX.get(type_, int(maximum))),
                )
            )
        cursor.execute(_SESSIONS, [long_session_seconds])
        for pid, user, application, state, seconds in cursor.fetchall():
            catalog.sessions.append(
                Session(
                    pid=pid,
                    user=user,
                    application=application,
                    state=state,
                    seconds=seconds,
                )
            )
    return catalog


def _index(row: tuple[Any, ...]) -> IndexDef:
    (
        table,
        name,
        method,
        unique,
        primary,
        valid,
        key_count,
        predicate,
        nulls_not_distinct,
        constraint,
        size,
        scans,
        _building,
        parts,
    ) = row
    keys = []
    include = []
    for number, part in enumerate(parts or []):
        if number >= key_count:
            include.append(part["column"])
            continue
        option = part["option"] or 0
        descending = bool(option & 1)
        keys.append(
            Key(
                part["column"] if part["expression"] is None else None,
                normalize_sql(part["expression"]),
                opclass=part["opclass"],
                collation=part["collation"],
                descending=descending,
                nulls_first=bool(option & 2) != descending,
                sql=part["expression"],
            )
        )
    return IndexDef(
        table=table,
        name=name,
        method=method,
        keys=tuple(keys),
        include=tuple(include),
        unique=unique,
        primary=primary,
        predicate=normalize_sql(predicate),
        predicate_sql=predicate,
        nulls_not_distinct=nulls_not_distinct,
        valid=valid,
        constraint=constraint,
        size=size,
        scans=scans,
    )
