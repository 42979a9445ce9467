"""System checks of request metrics: prodkit.E090 to prodkit.E096."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from django_prodkit import conf
from django_prodkit import redis as prodkit_redis
from django_prodkit.checks import PROCESS_LOCAL_CACHES, missing_cache

__all__ = ["MIDDLEWARE_PATH", "check_metrics"]

MIDDLEWARE_PATH = "django_prodkit.metrics.MetricsMiddleware"
_MIDDLEWARE_PATHS = {
    MIDDLEWARE_PATH,
    "django_prodkit.metrics.middleware.MetricsMiddleware",
}
# Middleware that answer some requests without calling what is below them: below one of
# these, MetricsMiddleware would miss those answers.
_ANSWERING = {
    "django_prodkit.ratelimit.RateLimitMiddleware": "rate-limit refusals",
    "django_prodkit.ratelimit.middleware.RateLimitMiddleware": "rate-limit refusals",
    "django_prodkit.idempotency.IdempotencyMiddleware": "idempotent replays",
    "django_prodkit.idempotency.middleware.IdempotencyMiddleware": "idempotent replays",
    "django.middleware.cache.UpdateCacheMiddleware": "pages served from the cache",
    "django.middleware.cache.FetchFromCacheMiddleware": "pages served from the cache",
    "django.middleware.cache.CacheMiddleware": "pages served from the cache",
}
MIN_TOKEN_LENGTH = 24


def check_metrics(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.E090 (token never matches), W091 (roll-ups per process), W092 (middleware
    missing), W093 (middleware misplaced), W094 (short token), W095 (open to every
    address), E096 (no such roll-up cache)."""
    loaded = conf.load()[0]
    options = loaded.metrics
    if not options.enabled:
        return []
    messages = [*_token(options.token), *_networks(options)]
    middleware = list(settings.MIDDLEWARE)
    positions = [i for i, path in enumerate(middleware) if path in _MIDDLEWARE_PATHS]
    if not positions:
        messages.append(
            Warning(
                "PRODKIT['METRICS'] is enabled but MetricsMiddleware is not in MIDDLEWARE: "
                "no request is timed or counted.",
                hint=f"Add {MIDDLEWARE_PATH!r} right after RequestIDMiddleware, "
                "or set PRODKIT['METRICS']['ENABLED'] = False.",
                id="prodkit.W092",
            )
        )
    else:
        above = {
            _ANSWERING[path]
            for path in middleware[: positions[0]]
            if path in _ANSWERING
        }
        if len(positions) > 1 or above:
            missed = f" ({', '.join(sorted(above))} go uncounted)" if above else ""
            messages.append(
                Warning(
                    f"MetricsMiddleware should be listed once, above the middleware that "
                    f"answer requests on their own{missed}.",
                    hint="Put it right after RequestIDMiddleware, so that it times the "
                    "whole stack and counts every answer.",
                    id="prodkit.W093",
                )
            )
    missing = missing_cache(
        loaded.rollup.cache, "ROLLUP", "its counters", "prodkit.E096"
    )
    if missing is not None:
        messages.append(missing)
    elif positions and not settings.DEBUG:
        messages.extend(_per_process(loaded.rollup.cache))
    return messages


def _token(token: str | None) -> list[CheckMessage]:
    if token is None:
        return []
    if not token or token != token.strip():
        return [
            Error(
                "PRODKIT['METRICS']['TOKEN'] is empty or starts or ends with whitespace: "
                "no Authorization header can match it.",
                hint="Set a random token, or None to open /metrics by staff login and "
                "ALLOWED_IPS only.",
                id="prodkit.E090",
            )
        ]
    if len(token) < MIN_TOKEN_LENGTH:
        return [
            Warning(
                f"PRODKIT['METRICS']['TOKEN'] is only {len(token)} characters long.",
                hint=f"Use at least {MIN_TOKEN_LENGTH} random characters, e.g. "
                'python -c "import secrets; print(secrets.token_urlsafe(32))".',
                id="prodkit.W094",
            )
        ]
    return []


def _networks(options: conf.MetricsSettings) -> list[CheckMessage]:
    everyone = [str(net) for net in options.allowed_networks if net.prefixlen == 0]
    if not everyone:
        return []
    return [
        Warning(
            f"PRODKIT['METRICS']['ALLOWED_IPS'] holds {', '.join(everyone)}, which lets "
            "every address read /metrics.",
            hint="List the addresses of your Prometheus servers, or use TOKEN.",
            id="prodkit.W095",
        )
    ]


def _per_process(alias: str) -> list[CheckMessage]:
    backend = settings.CACHES[alias].get("BACKEND", "")
    if prodkit_redis.is_django_redis(alias) or backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        Warning(
            f"Request metrics roll up in cache {alias!r}, which "
            f"{PROCESS_LOCAL_CACHES[backend]}: /metrics and the status page show one "
            "process's share, not the site's.",
            hint="Set PRODKIT['ROLLUP']['CACHE'] to a cache every instance shares "
            "(a django-redis cache in production).",
            id="prodkit.W091",
        )
    ]
