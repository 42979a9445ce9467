"""Redis fixtures shared by the test directories that count or store in Redis.

Loaded by ``tests/conftest.py``. A directory picks its database on the run's Redis by
overriding the ``redis_db_number`` fixture, so that its keys never meet another's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.ratelimit.servers import RedisServer, redis_url, require_redis_server
from tests.services import probe, redact


def need_redis(db: int) -> None:
    pytest.importorskip("django_redis")
    if problem := probe("redis"):
        pytest.skip(f"needs redis at {redact(redis_url(db))}: {problem}")


@pytest.fixture
def key_prefix() -> str:
    """The cache ``KEY_PREFIX`` of this test: no key is shared with another test, nor
    with another run of the suite against the same Redis at the same time."""
    return f"prodkit-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_db_number() -> int:
    return 11


@pytest.fixture
def redis_db(key_prefix: str, redis_db_number: int) -> Iterator[str]:
    """The URL of this directory's database on the run's Redis; the test's keys go
    afterwards."""
    need_redis(redis_db_number)
    import redis

    url = redis_url(redis_db_number)
    client = redis.Redis.from_url(url)
    try:
        yield url
    finally:
        keys = list(client.scan_iter(match=f"{key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own, running; ``.stop()``/``.start()`` at will."""
    pytest.importorskip("django_redis")
    require_redis_server()
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
