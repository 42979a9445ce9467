from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Warning

from django_prodkit import conf

MIDDLEWARE_PATH = "django_prodkit.logs.RequestIDMiddleware"
_MIDDLEWARE_PATHS = {
    MIDDLEWARE_PATH,
    "django_prodkit.logs.middleware.RequestIDMiddleware",
}


def check_middleware(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W010 (request-ID middleware missing) and W011 (not first)."""
    if not conf.load()[0].logs.enabled:
        return []
    middleware = list(settings.MIDDLEWARE)
    positions = [
        index for index, path in enumerate(middleware) if path in _MIDDLEWARE_PATHS
    ]
    if not positions:
        return [
            Warning(
                "PRODKIT['LOGS'] is enabled but RequestIDMiddleware is not in MIDDLEWARE.",
                hint=f"Add {MIDDLEWARE_PATH!r} at the top of MIDDLEWARE, "
                "or set PRODKIT['LOGS']['ENABLED'] = False.",
                id="prodkit.W010",
            )
        ]
    if positions != [0]:
        return [
            Warning(
                "RequestIDMiddleware should be listed once, first in MIDDLEWARE.",
                hint="Middleware above it can answer a request (redirects, errors) before it "
                "runs, and such responses would carry no request ID and no request log line.",
                id="prodkit.W011",
            )
        ]
    return []
