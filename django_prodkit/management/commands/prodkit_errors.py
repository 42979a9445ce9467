"""``manage.py prodkit_errors prune [--days N] [--dry-run] [--database ALIAS]``."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections, router

from django_prodkit import conf
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.errors.retention import prune


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of days >= 1: {value!r}"
        )
    return days


class Command(BaseCommand):
    help = "Maintain the stored error groups."
    # The command must answer with its own message while the database is down; Django
    # 6.1's model checks would query it first.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        pruner = actions.add_parser(
            "prune",
            help="Delete resolved and ignored groups not seen for a number of days.",
            description=(
                "Delete resolved and ignored error groups whose last occurrence is "
                "older than --days; unresolved groups are always kept."
            ),
        )
        pruner.add_argument(
            "--days",
            type=_days,
            default=None,
            help="Age in days (default: PRODKIT['ERRORS']['RETENTION_DAYS']).",
        )
        pruner.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the groups that would be deleted.",
        )
        pruner.add_argument(
            "--database",
            default=None,
            help="Database alias (default: ERRORS.DATABASE or the routers' choice).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        settings = conf.get().errors
        days: int = options["days"] or settings.retention_days
        alias: str = (
            options["database"] or settings.database or router.db_for_write(ErrorGroup)
        )
        if alias not in connections:
            raise CommandError(f"unknown database alias {alias!r}", returncode=2)
        try:
            count = prune(days, dry_run=options["dry_run"], using=alias)
        except DatabaseError as exc:
            raise CommandError(
                f"could not prune error groups in database {alias!r}: {exc}",
                returncode=1,
            ) from exc
        verb = "Would delete" if options["dry_run"] else "Deleted"
        groups = "group" if count == 1 else "groups"
        day_s = "day" if days == 1 else "days"
        self.stdout.write(
            f"{verb} {count} resolved or ignored error {groups} last seen more than "
            f"{days} {day_s} ago (database {alias!r})."
        )
