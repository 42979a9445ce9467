"""Settings of the processes that ``alert_process`` starts: the suite's, plus the
database (``PRODKIT_TEST_DATABASE``, JSON), the alert cache (``PRODKIT_TEST_REDIS_URL``
with ``PRODKIT_TEST_KEY_PREFIX``, or a cache of the process's own when unset) and the
webhook (``PRODKIT_TEST_WEBHOOK_URL``) from the environment."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.settings import *  # noqa: F403

DATABASES = {"default": json.loads(os.environ["PRODKIT_TEST_DATABASE"])}

_ALERTS_CACHE: dict[str, Any] = (
    {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["PRODKIT_TEST_REDIS_URL"],
        "KEY_PREFIX": os.environ["PRODKIT_TEST_KEY_PREFIX"],
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
    if os.environ.get("PRODKIT_TEST_REDIS_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "alerts": _ALERTS_CACHE,
}

PRODKIT = {
    "ERRORS": {
        "ALERTS": {
            # Every occurrence is over this rate: each process wants to alert, and only
            # the shared cooldown keeps the second one quiet.
            "ON_NEW": False,
            "RATE": "1/h",
            "CACHE": "alerts",
            "WEBHOOK_URL": os.environ.get("PRODKIT_TEST_WEBHOOK_URL"),
        }
    }
}
