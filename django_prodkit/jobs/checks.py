"""System checks of background jobs: prodkit.E130."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error

from django_prodkit import conf


def check_jobs(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.E130: the dead letters' database is not in ``DATABASES``.

    Found at start rather than at the first failed task, when the writer could only log
    every dead letter instead of storing it.
    """
    options = conf.load()[0].jobs
    if not options.enabled or options.database is None:
        return []
    if options.database in settings.DATABASES:
        return []
    return [
        Error(
            f"PRODKIT['JOBS']['DATABASE'] is {options.database!r}, which is not in "
            "DATABASES.",
            hint="Use one of: " + ", ".join(sorted(settings.DATABASES)) + ".",
            id="prodkit.E130",
        )
    ]
