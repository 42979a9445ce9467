from __future__ import annotations

from argparse import ArgumentParser

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from demo import seed


class Command(BaseCommand):
    help = (
        "Create the demo data and a superuser login for local use, and print the login."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off."
        )
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the site runs, for the printed admin URL (default: %(default)s).",
        )

    def handle(
        self, *args: object, force: bool, base_url: str, **options: object
    ) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this may not be a local demo: seed_demo would give the "
                f"user {seed.ADMIN_USERNAME!r} superuser rights and a printed password. "
                "Pass --force to run it anyway."
            )
        with transaction.atomic():
            login = seed.admin_login()
            summary = [step() for step in seed.STEPS]
        summary += [step() for step in seed.STEPS_AFTER_COMMIT]
        for line in summary:
            self.stdout.write(line)
        self.stdout.write(
            self.style.WARNING(
                "Admin login, for LOCAL USE ONLY (never seed a shared or public site):"
            )
        )
        self.stdout.write(f"  URL:      {base_url.rstrip('/')}/admin/")
        self.stdout.write(f"  Username: {login.username}")
        self.stdout.write(f"  Password: {login.password}")
        self.stdout.write("A new password is generated on every run.")
