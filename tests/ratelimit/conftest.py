"""Fixtures of the rate-limit tests: Redis for the counters, settings, fresh state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_prodkit import health, rollup
from django_prodkit.breaker import breakers
from django_prodkit.health.registry import registry
from django_prodkit.health.runner import runner
from tests.health.helpers import ONLY_CUSTOM
from tests.ratelimit.servers import (
    with_limiter,
)

# The shared server's database for these tests (the unit tests use 11).
DB = 12


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    """No breaker left open, no roll-up count or health result left by another test."""

    def reset() -> None:
        for breaker in breakers().values():
            breaker.reset()
        rollup.reset()
        runner.reset()

    registered = {check.name for check in registry.checks()}
    reset()
    yield
    reset()
    # A test that changes INSTALLED_APPS runs every AppConfig.ready() again, once more
    # when the setting is restored; with the limiter in MIDDLEWARE at that moment, ready()
    # registers the "ratelimit" health check. It must not outlive the test.
    if "ratelimit" not in registered:
        health.unregister("ratelimit")


@pytest.fixture
def redis_db_number() -> int:
    return DB


Configure = Callable[..., dict[str, Any]]


@pytest.fixture
def configure(settings, key_prefix: str) -> Configure:
    """``configure(rules, algorithm=..., location=..., **RATELIMIT options)``.

    Counters in cache ``"ratelimit"`` (django-redis at ``location``, with short socket
    timeouts and the test's ``key_prefix``); ``default`` stays a local cache so that nothing else of the kit touches
    that Redis. ``REDIS`` and ``CLIENT_IP`` sections and cache ``OPTIONS`` may be given too.
    Returns ``PRODKIT``.
    """
    base_middleware = list(settings.MIDDLEWARE)

    def apply(
        rules: list[dict[str, Any]],
        *,
        algorithm: str = "sliding",
        location: str,
        redis: dict[str, Any] | None = None,
        client_ip: dict[str, Any] | None = None,
        cache_options: dict[str, Any] | None = None,
        middleware: list[str] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "ratelimit": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": location,
                "KEY_PREFIX": key_prefix,
                "OPTIONS": {
                    "SOCKET_CONNECT_TIMEOUT": 0.5,
                    "SOCKET_TIMEOUT": 0.5,
                    **(cache_options or {}),
                },
            },
        }
        if algorithm == "fixed":  # django-ratelimit counts in RATELIMIT_USE_CACHE.
            settings.RATELIMIT_USE_CACHE = "ratelimit"
        prodkit: dict[str, Any] = {
            "RATELIMIT": {
                "ALGORITHM": algorithm,
                "CACHE": "ratelimit",
                "RULES": rules,
                **options,
            },
            "HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 0},
        }
        if redis is not None:
            prodkit["REDIS"] = redis
        if client_ip is not None:
            prodkit["CLIENT_IP"] = client_ip
        settings.PRODKIT = prodkit
        settings.MIDDLEWARE = with_limiter(
            base_middleware if middleware is None else middleware
        )
        settings.ROOT_URLCONF = "tests.ratelimit.urls"
        return prodkit

    return apply


@pytest.fixture(params=["sliding", "fixed"])
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)
