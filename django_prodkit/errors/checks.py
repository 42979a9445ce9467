"""System checks of error capture: prodkit.E070 to prodkit.E074."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from django_prodkit import conf
from django_prodkit import redis as prodkit_redis
from django_prodkit.checks import PROCESS_LOCAL_CACHES, missing_cache


def check_errors(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.E070 (IGNORE entry), E071 (no such database), E072 (no such alert
    cache), W073 (alert cache not shared), E074 (webhook URL not HTTP)."""
    options = conf.load()[0].errors
    if not options.enabled:
        return []
    problems = [*_ignored(options.ignore)]
    if options.database is not None and options.database not in settings.DATABASES:
        problems.append(
            Error(
                f"PRODKIT['ERRORS']['DATABASE'] is {options.database!r}, "
                "which is not in DATABASES.",
                hint="Use one of: " + ", ".join(sorted(settings.DATABASES)) + ".",
                id="prodkit.E071",
            )
        )
    alerts = options.alerts
    if alerts.enabled and (alerts.mail_admins or alerts.webhook_url):
        problems.extend(_alert_cache(alerts.cache))
    if alerts.webhook_url is not None:
        parts = urlsplit(alerts.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(
                Error(
                    "PRODKIT['ERRORS']['ALERTS']['WEBHOOK_URL'] is not an http:// or "
                    "https:// URL.",
                    hint="Give the full URL of the webhook (it is not shown here: "
                    "such URLs carry a token).",
                    id="prodkit.E074",
                )
            )
    return problems


def _ignored(paths: tuple[str, ...]) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for path in paths:
        try:
            found = import_string(path)
        except ImportError as error:
            reason = f"cannot be imported ({error})"
        else:
            if isinstance(found, type) and issubclass(found, BaseException):
                continue
            reason = "is not an exception class"
        problems.append(
            Error(
                f"PRODKIT['ERRORS']['IGNORE'] entry {path!r} {reason}.",
                hint="List dotted paths of exception classes, such as "
                "'shop.payments.CardDeclined'.",
                id="prodkit.E070",
            )
        )
    return problems


def _alert_cache(alias: str) -> list[CheckMessage]:
    missing = missing_cache(alias, "ERRORS']['ALERTS", "its cooldowns", "prodkit.E072")
    if missing is not None:
        return [missing]
    backend = settings.CACHES[alias].get("BACKEND", "")
    if prodkit_redis.is_django_redis(alias) or backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        Warning(
            f"Alert cooldowns live in cache {alias!r}, which {PROCESS_LOCAL_CACHES[backend]}: "
            "every process alerts the same group once per cooldown.",
            hint="Use a cache every instance shares (Redis, Memcached, a database "
            "cache) in production.",
            id="prodkit.W073",
        )
    ]
