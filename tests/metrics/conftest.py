"""Fixtures of the metrics tests: the middleware in place, a roll-up store, fresh state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from django_prodkit import rollup
from django_prodkit.breaker import breakers
from django_prodkit.health.runner import runner
from tests.health.helpers import ONLY_CUSTOM

DB = 9  # The shared Redis's database for these tests.
MIDDLEWARE = "django_prodkit.metrics.MetricsMiddleware"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def redis_cache(location: str, key_prefix: str, **options: Any) -> dict[str, Any]:
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, **options},
    }


def fresh() -> None:
    for breaker in breakers().values():
        breaker.reset()
    rollup.reset()
    runner.reset()


@pytest.fixture
def redis_db_number() -> int:
    return DB


@pytest.fixture(autouse=True)
def _metrics(settings) -> Iterator[None]:
    """``MetricsMiddleware`` right after ``RequestIDMiddleware``; roll-ups in ``"rollup"``."""
    settings.ROOT_URLCONF = "tests.metrics.urls"
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], MIDDLEWARE, *settings.MIDDLEWARE[1:]]
    settings.CACHES = {
        "default": {"BACKEND": LOCMEM},
        "rollup": {"BACKEND": LOCMEM, "LOCATION": "prodkit-metrics-tests"},
    }
    settings.PRODKIT = {
        "ROLLUP": {"CACHE": "rollup", "FLUSH_SECONDS": 60.0},
        "HEALTH": ONLY_CUSTOM,
        # The failing views here are about counting: no error group may outlive a test.
        "ERRORS": {"ENABLED": False},
    }
    caches["rollup"].clear()
    fresh()
    yield
    fresh()


@pytest.fixture(params=["locmem", pytest.param("redis", marks=pytest.mark.redis)])
def store(request, settings) -> str:
    """Each test twice: roll-ups in a LocMem cache, and in Redis."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_db")
        prefix = request.getfixturevalue("key_prefix")
        settings.CACHES = {**settings.CACHES, "rollup": redis_cache(url, prefix)}
    rollup.reset()
    return str(request.param)
