"""Settings of the server processes that ``ServerProcess`` starts.

The test suite's settings, with the rate limiter configured from the environment:
``PRODKIT_TEST_REDIS_URL`` and ``PRODKIT_TEST_KEY_PREFIX`` (where the shared counters are),
``PRODKIT_TEST_ALGORITHM`` (``sliding`` or ``fixed``) and ``PRODKIT_TEST_RATE`` (the one
rule's rate, counted by client IP).
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import MIDDLEWARE as BASE_MIDDLEWARE

ROOT_URLCONF = "tests.ratelimit.urls"

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["PRODKIT_TEST_REDIS_URL"],
        "KEY_PREFIX": os.environ.get("PRODKIT_TEST_KEY_PREFIX", ""),
        # tests.settings' CACHES has only strings: mypy infers dict[str, dict[str, str]].
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},  # type: ignore[dict-item]
    },
}
RATELIMIT_USE_CACHE = "ratelimit"

PRODKIT = {
    "RATELIMIT": {
        "ALGORITHM": os.environ.get("PRODKIT_TEST_ALGORITHM", "sliding"),
        "CACHE": "ratelimit",
        "RULES": [{"NAME": "all", "RATE": os.environ.get("PRODKIT_TEST_RATE", "5/m")}],
    }
}

_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MIDDLEWARE = [
    *BASE_MIDDLEWARE[: BASE_MIDDLEWARE.index(_AUTH) + 1],
    "django_prodkit.ratelimit.RateLimitMiddleware",
    *BASE_MIDDLEWARE[BASE_MIDDLEWARE.index(_AUTH) + 1 :],
]
