"""Helpers shared by the rate-limit unit tests (fixtures stay in each module)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from django_prodkit import conf
from tests.ratelimit.servers import RedisServer, require_redis_server
from tests.services import REDIS_URL

# A database of its own on the shared server: other test modules use 0, 12, 13 and 15.
UNIT_DB = 11
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_url(database: int = UNIT_DB, url: str = REDIS_URL) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def redis_cache(location: str, **options: object) -> dict[str, object]:
    """A django-redis cache definition that gives up quickly on a dead server."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, **options},
    }


def ratelimit_options(**section: object) -> conf.RateLimitSettings:
    """``PRODKIT["RATELIMIT"]`` parsed on its own; fails the test on a settings error."""
    value, problems = conf.parse({"RATELIMIT": section})
    assert problems == []
    return value.ratelimit


@contextlib.contextmanager
def private_redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` whose command statistics no other test touches."""
    require_redis_server()
    server = RedisServer()
    server.start()
    try:
        yield server.url()
    finally:
        server.stop()
