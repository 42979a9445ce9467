"""System checks of idempotency keys: prodkit.E060 to prodkit.W062."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Warning

from django_prodkit import conf
from django_prodkit import redis as prodkit_redis
from django_prodkit.checks import PROCESS_LOCAL_CACHES, missing_cache

MIDDLEWARE_PATHS = {
    "django_prodkit.idempotency.IdempotencyMiddleware",
    "django_prodkit.idempotency.middleware.IdempotencyMiddleware",
}
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def check_idempotency(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.E060 (no such cache), W061 (cache not shared), W062 (before auth).

    Silent unless ``IdempotencyMiddleware`` is in ``MIDDLEWARE``.
    """
    options = conf.load()[0].idempotency
    middleware = list(settings.MIDDLEWARE)
    positions = [i for i, path in enumerate(middleware) if path in MIDDLEWARE_PATHS]
    if not options.enabled or not positions:
        return []
    return [*_cache(options.cache), *_order(middleware, positions[0])]


def _cache(alias: str) -> list[CheckMessage]:
    missing = missing_cache(alias, "IDEMPOTENCY", "its keys", "prodkit.E060")
    if missing is not None:
        return [missing]
    if prodkit_redis.is_django_redis(alias):
        return []
    backend = settings.CACHES[alias].get("BACKEND", "")
    reason = PROCESS_LOCAL_CACHES.get(
        backend,
        "is not a django-redis cache: a key's release is atomic within one process only",
    )
    return [
        Warning(
            f"Idempotency keys live in cache {alias!r}, which {reason}; with several "
            "processes, a retry can run again while the first request still runs.",
            hint="Use a django-redis cache (django_redis.cache.RedisCache) in production.",
            id="prodkit.W061",
        )
    ]


def _order(middleware: list[str], position: int) -> list[CheckMessage]:
    if (
        AUTH_MIDDLEWARE not in middleware
        or middleware.index(AUTH_MIDDLEWARE) < position
    ):
        return []
    return [
        Warning(
            "IdempotencyMiddleware runs before AuthenticationMiddleware: it never sees a "
            "logged-in user, so keys are scoped by client address instead of by user.",
            hint="List IdempotencyMiddleware below "
            "django.contrib.auth.middleware.AuthenticationMiddleware.",
            id="prodkit.W062",
        )
    ]
