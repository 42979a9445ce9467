"""Helpers shared by the rate-limit unit tests (fixtures stay in each module)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from django_prodkit import conf
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def private_redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` whose command statistics no other test touches."""
    if not shutil.which(REDIS_SERVER):
        pytest.skip(f"needs the redis-server binary ({REDIS_SERVER})")
    port = _free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"redis-server on port {port} did not start")
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=5)
