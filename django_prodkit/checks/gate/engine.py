"""The deploy gate: run every section, gather one :class:`Report`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.core.checks import CheckMessage
from django.core.checks.registry import registry
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from django_prodkit import conf
from django_prodkit.checks.gate import connectivity, migrations
from django_prodkit.checks.gate.results import Report, Result

# The gate's own sections, selected with --tag like Django's check tags.
GATE_TAGS = ("migrations", "connectivity", "indexes")
INDEXED_VENDORS = ("postgresql", "sqlite")
INDEX_TAGS = ("indexes",)


class UsageError(ValueError):
    """The gate was asked for something that does not exist (a tag, an alias)."""


def available_tags() -> set[str]:
    """Django's registered check tags (deploy checks included) and the gate's own."""
    return set(registry.tags_available(deployment_checks=True)) | set(GATE_TAGS)


def gate_databases() -> list[str]:
    """The aliases of ``GATE.DATABASES``, every alias when it is ``None``."""
    # load(), not get(): an invalid PRODKIT is a finding of the gate (prodkit.E001),
    # not a reason for the gate not to run.
    chosen = conf.load()[0].gate.databases
    if chosen is None:
        return list(settings.DATABASES)
    unknown = [alias for alias in chosen if alias not in settings.DATABASES]
    if unknown:
        raise UsageError(
            f"PRODKIT['GATE']['DATABASES'] names {', '.join(map(repr, unknown))}, "
            f"not in DATABASES ({', '.join(settings.DATABASES)})."
        )
    return list(chosen)


def run(tags: Sequence[str] | None = None) -> Report:
    """Run the sections selected by ``tags`` (all of them when empty or ``None``).

    Raises:
        UsageError: a tag that is neither a Django check tag nor one of the gate's, or
            a ``GATE.DATABASES`` alias that is not in ``DATABASES``.
    """
    selected = set(tags or ())
    unknown = selected - available_tags()
    if unknown:
        raise UsageError(
            f"Unknown tag{'s' if len(unknown) > 1 else ''}: "
            f"{', '.join(sorted(unknown))}. Use one of: "
            f"{', '.join(sorted(available_tags()))}."
        )

    def wants(tag: str) -> bool:
        return not selected or tag in selected

    aliases = gate_databases()
    timeout = conf.load()[0].gate.timeout
    cache_aliases = list(settings.CACHES) if wants("connectivity") else []
    probes = connectivity.probe(aliases, cache_aliases, timeout)
    reachable = [p.alias for p in probes if p.kind == "database" and p.reachable]
    report = Report()
    if wants("connectivity"):
        report.results.extend(p.result(timeout) for p in probes)

    django_tags = selected - set(GATE_TAGS)
    run_django = not selected or bool(django_tags)
    sections: list[tuple[str, bool]] = [
        ("Django's database checks", run_django),
        ("migrations", wants("migrations")),
        ("indexes", wants("indexes")),
    ]
    for alias in aliases:
        if alias not in reachable:
            report.skipped.extend(
                f"{name} on database {alias!r}: it is unreachable"
                for name, wanted in sections
                if wanted
            )

    if run_django:
        _system_checks(report, django_tags, reachable)
    if wants("migrations"):
        _migrations(report, reachable)
    if wants("indexes"):
        for alias in reachable:
            _indexes(report, alias)
    silenced = set(settings.SILENCED_SYSTEM_CHECKS)
    report.results = [r for r in report.results if r.id not in silenced]
    return report


def _system_checks(report: Report, tags: set[str], databases: list[str]) -> None:
    """Django's ``run_checks(include_deployment_checks=True)``, one check at a time.

    One at a time so that each message keeps the tags of its check, and so that a
    check that raises becomes one result instead of ending the run.
    """
    for check in registry.get_checks(include_deployment_checks=True):
        check_tags = tuple(getattr(check, "tags", ()))
        if tags and tags.isdisjoint(check_tags):
            continue
        name = getattr(check, "__qualname__", repr(check))
        _section(
            report,
            f"the system check {check.__module__}.{name}",
            f"{check.__module__}.{name}",
            functools.partial(_check_results, check, check_tags, databases),
            hint="Run manage.py check --deploy to see the traceback.",
            tags=check_tags,
        )


def _check_results(
    check: Callable[..., Iterable[CheckMessage]],
    tags: tuple[str, ...],
    databases: list[str],
) -> list[Result]:
    return [
        Result.from_message(message, tags)
        for message in check(app_configs=None, databases=databases)
    ]


def _migrations(report: Report, databases: Iterable[str]) -> None:
    def code() -> list[Result]:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        found = migrations.conflicts(loader)
        if found:
            report.skipped.append(
                "model changes without a migration: not looked for while migrations "
                "conflict"
            )
            return found
        return migrations.model_changes(loader)

    _section(
        report,
        "the migration files",
        "migrations",
        code,
        hint="Run manage.py makemigrations --check --dry-run to see the traceback.",
        tags=migrations.TAGS,
    )
    for alias in databases:
        _section(
            report,
            f"the migrations of database {alias!r}",
            f"DATABASES[{alias!r}]",
            functools.partial(migrations.unapplied, alias),
            hint=f"Run manage.py showmigrations --database {alias} to see the "
            "traceback.",
            tags=migrations.TAGS,
        )


def _indexes(report: Report, alias: str) -> None:
    vendor = connections[alias].vendor
    if vendor not in INDEXED_VENDORS:
        report.skipped.append(
            f"indexes on database {alias!r}: {vendor} is not inspected"
        )
        return

    def inspect_alias() -> list[Result]:
        # Imported here: the index inspection modules load only when the section runs.
        from django_prodkit.checks.indexes import inspect

        found = inspect(alias)
        report.skipped.extend(
            f"indexes on database {alias!r}: {entry}" for entry in found.skipped
        )
        return [
            Result.from_message(finding.check_message(), INDEX_TAGS)
            for finding in found.findings
        ]

    _section(
        report,
        f"index inspection of database {alias!r}",
        f"DATABASES[{alias!r}]",
        inspect_alias,
        hint=f"Run manage.py prodkit_indexes --database {alias} to see the traceback.",
        tags=INDEX_TAGS,
    )


def _section(
    report: Report,
    name: str,
    obj: str,
    work: Callable[[], list[Result]],
    *,
    hint: str,
    tags: tuple[str, ...],
) -> None:
    """Add the results of ``work``; if it raises, report E104 naming ``name``."""
    try:
        report.results.extend(work())
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        report.results.append(
            Result(
                id="prodkit.E104",
                level="error",
                message=f"The gate could not run {name}: {reason}.",
                hint=hint,
                obj=obj,
                tags=tags,
            )
        )
