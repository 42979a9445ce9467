"""``manage.py prodkit_health [--record] [--format text|json]``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from django_prodkit.health.base import Result, overall
from django_prodkit.health.history import record
from django_prodkit.health.service import document, run_checks


class Command(BaseCommand):
    help = (
        "Run every health check now and print the results; exit 1 when a critical "
        "check fails. With --record, store the results as history."
    )
    # A probe must answer while the database is down; Django 6.1's model checks query
    # the database (JSONField support), so the system checks would fail first.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--record",
            action="store_true",
            help="Store the results in the health history (and prune old rows).",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format (default: text).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        results = run_checks(use_cache=False)
        problems: list[str] = []
        recorded: int | None = None
        if options["record"]:
            try:
                recorded = len(record(results))
            except DatabaseError as exc:
                # The results are still worth printing when the history is unwritable.
                problems.append(f"could not record the results: {exc}")
        if options["format"] == "json":
            body = document(results, detailed=True)
            if options["record"]:
                body["recorded"] = recorded or 0
            self.stdout.write(json.dumps(body, indent=2))
        else:
            self._write_text(results, recorded)
        if overall(results) == "unhealthy":
            failed = [r.name for r in results if r.critical and r.status == "fail"]
            problems.insert(
                0, f"unhealthy: critical check(s) failed: {', '.join(failed)}"
            )
        if problems:
            raise CommandError("; ".join(problems), returncode=1)

    def _write_text(self, results: list[Result], recorded: int | None) -> None:
        styles: dict[str, Callable[[str], str]] = {
            "ok": self.style.SUCCESS,
            "warn": self.style.WARNING,
            "fail": self.style.ERROR,
            "healthy": self.style.SUCCESS,
            "degraded": self.style.WARNING,
            "unhealthy": self.style.ERROR,
        }
        width = max((len(result.name) for result in results), default=0)
        for result in results:
            # Pad before styling: colour codes would count towards the width.
            line = (
                f"{styles[result.status](result.status.ljust(4))}  "
                f"{result.name.ljust(width)}  {result.latency_ms:9.2f} ms  "
                f"{'CRITICAL' if result.critical else '':8}  {result.message}"
            )
            self.stdout.write(line.rstrip())
        status = overall(results)
        counts = ", ".join(
            f"{sum(r.status == s for r in results)} {s}" for s in ("ok", "warn", "fail")
        )
        self.stdout.write(styles[status](f"{status}: {counts}"))
        if recorded is not None:
            self.stdout.write(f"Recorded {recorded} results.")
