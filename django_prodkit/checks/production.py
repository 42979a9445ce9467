"""Deploy checks of production settings: prodkit.W106 to prodkit.W109.

Only what Django's own deploy checks and the capabilities' checks leave out: DEBUG,
SECRET_KEY, ALLOWED_HOSTS, HTTPS and cookies are Django's; a shared cache behind rate
limiting (W034) and idempotency (W061), CSP (W045) and a statement timeout (W081) are
prodkit's already.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.urls import NoReverseMatch, reverse

from django_prodkit import conf

# Opening a SQLite file costs no round trip: there is nothing to keep open.
_LOCAL_ENGINES = (".sqlite3", ".spatialite")
UPLOAD_LIMITS = (
    "DATA_UPLOAD_MAX_MEMORY_SIZE",
    "DATA_UPLOAD_MAX_NUMBER_FIELDS",
    "DATA_UPLOAD_MAX_NUMBER_FILES",
)


def check_persistent_connections(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W106: a database server reached anew for every request."""
    problems: list[CheckMessage] = []
    for alias, config in settings.DATABASES.items():
        persistent = config.get("CONN_MAX_AGE", 0) != 0
        pooled = bool((config.get("OPTIONS") or {}).get("pool"))
        local = str(config.get("ENGINE", "")).endswith(_LOCAL_ENGINES)
        if persistent or pooled or local:
            continue
        problems.append(
            Warning(
                f"Database {alias!r} opens a new connection for every request "
                "(CONN_MAX_AGE is 0 and there is no connection pool): each request "
                "pays a connection set-up, TLS and authentication included.",
                hint=f"Set DATABASES[{alias!r}]['CONN_MAX_AGE'] = 60 with "
                "CONN_HEALTH_CHECKS = True, or, on PostgreSQL with psycopg 3 (and "
                "always under ASGI), OPTIONS = {'pool': True}. Behind a PgBouncer "
                "on the same host, silence this check.",
                obj=f"DATABASES[{alias!r}]",
                id="prodkit.W106",
            )
        )
    return problems


def check_health_token(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W107: ``/health/`` is routed, but no monitor can read its details."""
    options = conf.load()[0].health
    if not options.enabled or options.token is not None:
        return []
    try:
        path = reverse("prodkit:health")
    except NoReverseMatch:  # The project does not route the health views.
        return []
    return [
        Warning(
            f"{path} is routed but PRODKIT['HEALTH']['TOKEN'] is not set: only a "
            "staff session sees which check failed, so an external monitor sees "
            "'unhealthy' and nothing else.",
            hint="Set HEALTH.TOKEN from the environment (at least 24 random "
            'characters: python -c "import secrets; '
            'print(secrets.token_urlsafe(32))") and have the monitor send '
            "Authorization: Bearer <token>.",
            id="prodkit.W107",
        )
    ]


def check_upload_limits(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W108: an upload limit of Django's turned off."""
    return [
        Warning(
            f"{name} is None: Django puts no limit on what one request may send, "
            "so one request can take a worker's memory or time.",
            hint=f"Remove {name} from the settings to keep Django's default, or set "
            "a number that fits the largest legitimate request.",
            obj=name,
            id="prodkit.W108",
        )
        for name in UPLOAD_LIMITS
        if getattr(settings, name, 0) is None
    ]


def check_error_capture(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W109: an unhandled exception in production would reach nobody."""
    if conf.load()[0].errors.enabled or sentry_initialised() or settings.ADMINS:
        return []
    return [
        Warning(
            "Nothing captures unhandled exceptions: PRODKIT['ERRORS'] is disabled, "
            "Sentry is not initialised and ADMINS is empty, so a 500 leaves only "
            "a line in the server log.",
            hint="Turn ERRORS back on, or call django_prodkit.integrations.sentry."
            "init() in the settings with SENTRY_DSN set.",
            id="prodkit.W109",
        )
    ]


def sentry_initialised() -> bool:
    """Whether sentry-sdk has an active client in this process."""
    # Not imported here: a project without Sentry has not loaded it, and then it is off.
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is None:
        return False
    return bool(sentry_sdk.get_client().is_active())
