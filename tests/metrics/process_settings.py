"""Settings of the processes that ``record_process`` starts: the suite's, plus the metrics
middleware and a roll-up cache on the Redis at ``PRODKIT_TEST_REDIS_URL`` with the key
prefix ``PRODKIT_TEST_KEY_PREFIX``."""

from __future__ import annotations

import os
from typing import Any

from tests.settings import *  # noqa: F403
from tests.settings import MIDDLEWARE as SUITE_MIDDLEWARE

ROOT_URLCONF = "tests.metrics.urls"
MIDDLEWARE = [
    SUITE_MIDDLEWARE[0],
    "django_prodkit.metrics.MetricsMiddleware",
    *SUITE_MIDDLEWARE[1:],
]
_ROLLUP_CACHE: dict[str, Any] = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": os.environ["PRODKIT_TEST_REDIS_URL"],
    "KEY_PREFIX": os.environ["PRODKIT_TEST_KEY_PREFIX"],
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "rollup": _ROLLUP_CACHE,
}
PRODKIT = {"ROLLUP": {"CACHE": "rollup", "FLUSH_SECONDS": 3600.0}}
