"""System checks of the rate limiter: prodkit.E030 to prodkit.W039."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from django_prodkit import conf
from django_prodkit import redis as prodkit_redis
from django_prodkit.ratelimit.core import algorithm, cache_alias
from django_prodkit.ratelimit.responses import HEADER_NAMES
from django_prodkit.ratelimit.rules import compile_rules

MIDDLEWARE_PATHS = {
    "django_prodkit.ratelimit.RateLimitMiddleware",
    "django_prodkit.ratelimit.middleware.RateLimitMiddleware",
}
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
CORS_MIDDLEWARE = "corsheaders.middleware.CorsMiddleware"
CLIENT_IP_FUNCTION = "django_prodkit.client_ip.get_client_ip"
NOT_SHARED = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps counts per process",
    "django.core.cache.backends.dummy.DummyCache": "never counts anything",
    "django.core.cache.backends.filebased.FileBasedCache": "does not count atomically",
    "django.core.cache.backends.db.DatabaseCache": "does not count atomically",
}


def check_ratelimit(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    options = conf.load()[0].ratelimit
    if not options.enabled:
        return []
    messages: list[CheckMessage] = []
    _, problems = compile_rules(options)
    messages += [
        Error(problem, hint=_RULE_HINT, id="prodkit.E030") for problem in problems
    ]
    messages += _cache(options)
    if options.rules:
        messages += _middleware(options)
    messages += _cors(options)
    messages += _decorators()
    return messages


_RULE_HINT = (
    "A rule is a dict with NAME, and optionally PATH (a prefix) or REGEX, METHODS, KEY "
    "('ip', 'user', 'user_or_ip', 'header:NAME' or a dotted path) and RATE ('100/m', a "
    "preset name or a dotted path)."
)


def _cache(options: conf.RateLimitSettings) -> list[CheckMessage]:
    alias = cache_alias(options)
    if alias not in settings.CACHES:
        return [
            Error(
                f"PRODKIT['RATELIMIT'] counts in cache {alias!r}, which is not in CACHES.",
                hint="Set PRODKIT['RATELIMIT']['CACHE'] to one of: "
                + ", ".join(sorted(settings.CACHES))
                + ".",
                id="prodkit.E031",
            )
        ]
    messages: list[CheckMessage] = []
    chosen = algorithm(options)
    if chosen == "sliding" and not prodkit_redis.is_django_redis(alias):
        messages.append(
            Error(
                f"The sliding algorithm needs a django-redis cache; {alias!r} is not one.",
                hint="Point PRODKIT['RATELIMIT']['CACHE'] at a django_redis.cache."
                "RedisCache alias, or set ALGORITHM to 'fixed' or 'auto'.",
                id="prodkit.E032",
            )
        )
    ratelimit_cache = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    if chosen == "fixed" and alias != ratelimit_cache:
        messages.append(
            Error(
                f"The fixed algorithm counts through django-ratelimit, which uses "
                f"RATELIMIT_USE_CACHE ({ratelimit_cache!r}), not {alias!r}.",
                hint=f"Set RATELIMIT_USE_CACHE = {alias!r}, or leave "
                "PRODKIT['RATELIMIT']['CACHE'] unset.",
                id="prodkit.E033",
            )
        )
    backend = settings.CACHES[alias].get("BACKEND", "")
    if options.rules and backend in NOT_SHARED:
        messages.append(
            Warning(
                f"Rate limits count in cache {alias!r}, which {NOT_SHARED[backend]}: "
                "with several processes each one admits the full limit.",
                hint="Use a shared cache such as Redis (django-redis) in production.",
                id="prodkit.W034",
            )
        )
    return messages


def _middleware(options: conf.RateLimitSettings) -> list[CheckMessage]:
    middleware = list(settings.MIDDLEWARE)
    positions = [i for i, path in enumerate(middleware) if path in MIDDLEWARE_PATHS]
    if not positions:
        return [
            Warning(
                "PRODKIT['RATELIMIT'] has RULES but RateLimitMiddleware is not in "
                "MIDDLEWARE, so no rule is applied.",
                hint="Add 'django_prodkit.ratelimit.RateLimitMiddleware' after "
                "AuthenticationMiddleware.",
                id="prodkit.W035",
            )
        ]
    uses_user = any(rule.key in ("user", "user_or_ip") for rule in options.rules)
    if (
        uses_user
        and AUTH_MIDDLEWARE in middleware
        and middleware.index(AUTH_MIDDLEWARE) > positions[0]
    ):
        return [
            Warning(
                "RateLimitMiddleware runs before AuthenticationMiddleware, but a rule "
                "counts by user: every request would be counted by IP.",
                hint="Move RateLimitMiddleware below AuthenticationMiddleware.",
                id="prodkit.W036",
            )
        ]
    return []


def _cors(options: conf.RateLimitSettings) -> list[CheckMessage]:
    if not apps.is_installed("corsheaders"):
        return []
    messages: list[CheckMessage] = []
    exposed = {
        str(name).lower() for name in getattr(settings, "CORS_EXPOSE_HEADERS", ())
    }
    wanted = ["Retry-After", *_styled(options.headers), "Idempotent-Replayed"]
    missing = [name for name in wanted if name.lower() not in exposed]
    if missing:
        messages.append(
            Warning(
                "CORS_EXPOSE_HEADERS does not list " + ", ".join(missing) + ": browser "
                "code on other origins cannot read them.",
                hint="Add them to CORS_EXPOSE_HEADERS.",
                id="prodkit.W037",
            )
        )
    middleware = list(settings.MIDDLEWARE)
    limiter = [i for i, path in enumerate(middleware) if path in MIDDLEWARE_PATHS]
    if (
        limiter
        and CORS_MIDDLEWARE in middleware
        and middleware.index(CORS_MIDDLEWARE) > limiter[0]
    ):
        messages.append(
            Warning(
                "RateLimitMiddleware runs before CorsMiddleware: its 429 answers carry no "
                "Access-Control-Allow-Origin, so browsers report a CORS error instead.",
                hint="Move RateLimitMiddleware below CorsMiddleware.",
                id="prodkit.W038",
            )
        )
    return messages


def _styled(styles: Sequence[str]) -> list[str]:
    return [name for style in styles for name in HEADER_NAMES[style]]


def _decorators() -> list[CheckMessage]:
    """django-ratelimit's decorators should see the same client IP as the middleware."""
    if not apps.is_installed("django_ratelimit"):
        return []
    if not conf.load()[0].client_ip.trusted_proxies and (
        conf.load()[0].client_ip.proxy_count is None
    ):
        return []
    if getattr(settings, "RATELIMIT_IP_META_KEY", None) == CLIENT_IP_FUNCTION:
        return []
    return [
        Warning(
            "django-ratelimit decorators read REMOTE_ADDR, which behind your trusted "
            "proxies is the proxy's address: all clients share one bucket.",
            hint=f"Set RATELIMIT_IP_META_KEY = {CLIENT_IP_FUNCTION!r}.",
            id="prodkit.W039",
        )
    ]
