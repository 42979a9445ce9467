"""``manage.py prodkit_indexes [--database ALIAS] [--format text|json]``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from django_prodkit.checks.indexes import Finding, Level, Report, inspect
from django_prodkit.checks.indexes.findings import LEVELS

_HEADINGS: dict[Level, str] = {
    "error": "Errors",
    "warning": "Warnings",
    "info": "Info",
}


class Command(BaseCommand):
    help = (
        "Compare the indexes the models declare with the database's and report "
        "foreign keys without an index, missing, undeclared, duplicate, redundant, "
        "invalid and unused indexes, each with its fix; exit 1 when a finding is at "
        "or above --fail-level."
    )
    # Inspection must run when an unrelated system check fails, and before migrate.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            default="default",
            help='The database alias to inspect (default: "default").',
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format (default: text).",
        )
        parser.add_argument(
            "--fail-level",
            choices=["error", "warning", "info"],
            default="error",
            help="Exit 1 when a finding is at or above this level (default: error).",
        )
        parser.add_argument(
            "--structural",
            action="store_true",
            help="Only the checks that read the schema, not the usage statistics.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        if alias not in settings.DATABASES:
            raise CommandError(
                f"Unknown database {alias!r}; use one of: "
                + ", ".join(sorted(settings.DATABASES))
                + ".",
                returncode=2,
            )
        try:
            report = inspect(alias, statistics=not options["structural"])
        except DatabaseError as exc:
            raise CommandError(
                f"Cannot inspect database {alias!r}: {exc}".strip(), returncode=1
            ) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self._write_text(report)
        fail_level: Level = options["fail_level"]
        failing = [f for f in report.findings if f.at_least(fail_level)]
        if failing:
            raise CommandError(
                f"{len(failing)} finding(s) at or above {fail_level!r}.", returncode=1
            )

    def _write_text(self, report: Report) -> None:
        styles: dict[Level, Callable[[str], str]] = {
            "error": self.style.ERROR,
            "warning": self.style.WARNING,
            "info": self.style.NOTICE,
        }
        for level in sorted(LEVELS, key=lambda name: -LEVELS[name]):
            found = [f for f in report.findings if f.level == level]
            if not found:
                continue
            self.stdout.write(styles[level](f"{_HEADINGS[level]} ({len(found)})"))
            for finding in found:
                self._write_finding(finding, styles[level])
            self.stdout.write("")
        for reason in report.skipped:
            self.stdout.write(f"Skipped: {reason}.")
        counts = ", ".join(
            _count(sum(f.level == level for f in report.findings), level)
            for level in ("error", "warning", "info")
        )
        summary = (
            f"Database '{report.database}' ({report.vendor}): {counts}; "
            f"{report.queries} queries."
        )
        worst = report.findings[0].level if report.findings else None
        self.stdout.write(
            styles[worst](summary) if worst else self.style.SUCCESS(summary)
        )

    def _write_finding(self, finding: Finding, style: Callable[[str], str]) -> None:
        where = finding.table or finding.database
        if finding.columns:
            where += f" ({', '.join(finding.columns)})"
        self.stdout.write(f"{style(finding.id)} {where}: {finding.message}")
        if finding.model:
            self.stdout.write(f"    model: {finding.model} in {finding.model_file}")
        self.stdout.write(f"    hint: {finding.hint}")
        if finding.fix_sql:
            self.stdout.write(f"    sql: {finding.fix_sql}")
        if finding.fix_operation:
            self.stdout.write(f"    change: {finding.fix_operation}")


def _count(number: int, level: str) -> str:
    plural = "" if number == 1 or level == "info" else "s"
    return f"{number} {level}{plural}"
