"""``manage.py prodkit_check [--format text|json] [--fail-level LEVEL] [--tag T ...]``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodkit.checks import gate
from django_prodkit.checks.gate import Report, Result

# Group headings of the text output, most severe first, as Django's check prints them.
HEADINGS = {
    "critical": "CRITICALS",
    "error": "ERRORS",
    "warning": "WARNINGS",
    "info": "INFOS",
    "debug": "DEBUGS",
}
PLURAL_S = frozenset({"error", "warning"})


class Command(BaseCommand):
    help = (
        "The deploy gate: Django's system and deploy checks, django-prodkit's checks, "
        "migrations, database and cache connectivity and index findings. Exit 1 when "
        "a result is at or above the fail level."
    )
    # The gate runs the checks itself: a failing check is one of its results, not a
    # SystemCheckError before it starts.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format (default: text).",
        )
        parser.add_argument(
            "--fail-level",
            choices=gate.FAIL_LEVELS,
            default="error",
            help="The lowest level that fails the gate (default: error).",
        )
        parser.add_argument(
            "--tag",
            "-t",
            action="append",
            dest="tags",
            default=[],
            metavar="TAG",
            help="Run only the checks with this tag (a Django check tag, or "
            "migrations, connectivity, indexes); may be repeated.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fail_level: str = options["fail_level"]
        try:
            report = gate.run(options["tags"])
        except gate.UsageError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(fail_level), indent=2))
        else:
            self._write_text(report, fail_level)
        failing = report.failing(fail_level)
        if failing:
            raise CommandError(
                f"the deploy gate failed: {len(failing)} result"
                f"{'s' if len(failing) > 1 else ''} at or above {fail_level}",
                returncode=1,
            )

    def _write_text(self, report: Report, fail_level: str) -> None:
        styles: dict[str, Callable[[str], str]] = {
            "critical": self.style.ERROR,
            "error": self.style.ERROR,
            "warning": self.style.WARNING,
            "info": self.style.NOTICE,
            "debug": self.style.NOTICE,
        }
        results = report.sorted_results()
        for level, heading in HEADINGS.items():
            group = [result for result in results if result.level == level]
            if not group:
                continue
            self.stdout.write(f"{heading}:")
            for result in group:
                self.stdout.write(styles[level](_line(result)))
            self.stdout.write("")
        if report.skipped:
            self.stdout.write("SKIPPED:")
            for entry in report.skipped:
                self.stdout.write(f"  {entry}")
            self.stdout.write("")
        counts = ", ".join(
            f"{count} {level}{'s' if count > 1 and level in PLURAL_S else ''}"
            for level, count in report.counts().items()
            if count
        )
        if report.passed(fail_level):
            verdict = self.style.SUCCESS(f"passed at fail level {fail_level}")
        else:
            verdict = self.style.ERROR(f"failed at fail level {fail_level}")
        self.stdout.write(
            f"{counts or 'no results'}; {len(report.skipped)} skipped: {verdict}."
        )


def _line(result: Result) -> str:
    # Django's own layout, "obj: (id) message" then a tab and the hint.
    text = f"{result.obj or '?'}: ({result.id}) {result.message}"
    if result.hint:
        text += f"\n\tHINT: {result.hint}"
    return text
