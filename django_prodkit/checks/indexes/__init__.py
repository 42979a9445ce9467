"""Index inspection: the indexes the models declare against the ones the database has.

``inspect()`` runs every check for one database alias; ``structural_findings()`` runs
only those that need no production statistics, for a project's own test suite.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps
from django.db import connections, router
from django.db.models import Model

from django_prodkit import conf
from django_prodkit.checks.indexes import catalog_postgresql, catalog_sqlite
from django_prodkit.checks.indexes.analysis import Inspection, run_structural
from django_prodkit.checks.indexes.declared import declared_indexes, schema_editor
from django_prodkit.checks.indexes.findings import (
    IDS,
    LEVELS,
    STRUCTURAL_KINDS,
    Finding,
    Level,
    Report,
)
from django_prodkit.checks.indexes.operational import run_operational

__all__ = [
    "IDS",
    "Finding",
    "Level",
    "Report",
    "inspect",
    "inspected_models",
    "structural_findings",
]

_SQLITE_SKIPPED = (
    "invalid indexes: SQLite has none",
    "unused indexes and sequential scans: SQLite keeps no usage statistics",
    "sequences, NOT VALID constraints, transaction-ID age, long sessions and "
    "lock_timeout: PostgreSQL only",
)


def inspected_models(
    database: str = "default", models: Iterable[type[Model]] | None = None
) -> list[type[Model]]:
    """The models whose tables are inspected: ``models``, or every managed model
    (with auto-created many-to-many tables) that migrates to ``database``, minus
    ``INDEXES.EXCLUDE`` (app labels, ``app_label.Model`` or table names)."""
    exclude = {entry.lower() for entry in conf.get().indexes.exclude}
    chosen = (
        list(models)
        if models is not None
        else [
            model
            for model in apps.get_models(include_auto_created=True)
            if router.allow_migrate_model(database, model)
        ]
    )
    return [
        model
        for model in chosen
        if model._meta.managed
        and not model._meta.proxy
        and not model._meta.swapped
        and model._meta.app_label.lower() not in exclude
        and model._meta.label_lower not in exclude
        and model._meta.db_table.lower() not in exclude
    ]


def inspect(
    database: str = "default",
    *,
    statistics: bool = True,
    models: Iterable[type[Model]] | None = None,
) -> Report:
    """Inspect the indexes of ``database``'s tables and report what is wrong.

    Args:
        database: A key of ``DATABASES``.
        statistics: Also run the checks that read the server's usage statistics and
            state (unused indexes, sequential scans, sequences, wraparound, long
            sessions, ``lock_timeout``). ``False`` runs the structural checks only.
        models: The models to inspect; by default every managed model that migrates
            to ``database``, minus ``INDEXES.EXCLUDE``.

    Raises:
        django.db.DatabaseError: The database cannot be read.
    """
    connection = connections[database]
    report = Report(database=database, vendor=connection.vendor)
    if connection.vendor not in {"postgresql", "sqlite"}:
        report.skipped.append(
            f"every check: {connection.vendor} is not supported, only PostgreSQL "
            "and SQLite"
        )
        return report
    chosen = inspected_models(database, models)
    counter = _QueryCounter()
    with connection.execute_wrapper(counter):
        tables = {model._meta.db_table: model for model in chosen}
        editor = schema_editor(connection)
        declared = [
            d for model in chosen for d in declared_indexes(model, connection, editor)
        ]
        options = conf.get().indexes
        if connection.vendor == "postgresql":
            catalog = catalog_postgresql.read(
                connection,
                tables,
                statistics=statistics,
                long_session_seconds=options.long_session_seconds,
            )
        else:
            catalog = catalog_sqlite.read(connection, tables)
            report.skipped.extend(
                _SQLITE_SKIPPED if statistics else _SQLITE_SKIPPED[:1]
            )
        inspection = Inspection(
            connection=connection, models=tables, declared=declared, catalog=catalog
        )
        run_structural(inspection)
        if statistics:
            run_operational(inspection, options)
        elif connection.vendor == "postgresql":
            report.skipped.append(
                "unused indexes, sequential scans, sequences, transaction-ID age, long "
                "sessions and lock_timeout: structural checks only"
            )
    report.skipped.extend(inspection.skipped)
    report.findings = sorted(
        inspection.findings,
        key=lambda f: (-LEVELS[f.level], f.table or "", f.id, f.index or ""),
    )
    report.queries = counter.count
    return report


def structural_findings(
    database: str = "default", models: Iterable[type[Model]] | None = None
) -> list[Finding]:
    """The findings that need no production statistics, for a project's test suite:
    foreign keys without an index, missing, undeclared, duplicate, redundant and
    invalid indexes, and NOT VALID constraints."""
    report = inspect(database, statistics=False, models=models)
    return [f for f in report.findings if f.kind in STRUCTURAL_KINDS]


class _QueryCounter:
    """Counts every query the inspection makes, Django's own included."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self,
        execute: object,
        sql: str,
        params: object,
        many: bool,
        context: dict[str, object],
    ) -> object:
        self.count += 1
        return execute(sql, params, many, context)  # type: ignore[operator]
