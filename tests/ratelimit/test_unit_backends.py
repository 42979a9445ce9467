from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

from django_prodkit.ratelimit.backends import (
    BackendError,
    FixedBackend,
    Hit,
    SlidingBackend,
)
from tests.dead_services import closed_port
from tests.ratelimit.unit_helpers import (
    UNIT_DB,
    private_redis_server,
    redis_cache,
    redis_url,
)

redis = pytest.importorskip("redis")
pytest.importorskip("django_redis")

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


class RefusingCache(LocMemCache):
    """A cache whose server went away: every write is refused."""

    def add(self, *args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("connection refused")


def hit(rule: str, limit: int, period: int = 60, key: str = "ip:203.0.113.7") -> Hit:
    return Hit(rule=rule, key=key, limit=limit, period=period)


@pytest.fixture
def unit_redis(settings) -> Iterator[Any]:
    """Cache ``rl`` on the shared server's database 11, empty."""
    settings.CACHES = {"default": LOCMEM, "rl": redis_cache(redis_url())}
    server = redis.Redis.from_url(redis_url())
    server.flushdb()
    yield server
    server.flushdb()
    server.close()


@pytest.fixture(scope="module")
def own_url() -> Iterator[str]:
    with private_redis_server() as url:
        yield url


@pytest.fixture
def own_redis(settings, own_url) -> Iterator[Any]:
    """Cache ``rl`` on a server of its own, whose command statistics are ours alone."""
    settings.CACHES = {"default": LOCMEM, "rl": redis_cache(own_url)}
    server = redis.Redis.from_url(own_url)
    yield server
    server.flushall()
    server.close()


def calls(server: Any) -> dict[str, int]:
    stats = server.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in stats.items()
        if name != "cmdstat_info"
    }


# What the sliding script itself calls: command statistics count these too.
SCRIPT_COMMANDS = {"time", "zremrangebyscore", "zcard", "zadd", "pexpire", "zrange"}


def sent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The commands a client sent meanwhile (those called inside a script left out)."""
    return {
        name: count - before.get(name, 0)
        for name, count in after.items()
        if count != before.get(name, 0) and name not in SCRIPT_COMMANDS
    }


# SlidingBackend


@pytest.mark.redis
@pytest.mark.parametrize("rules", [1, 2, 6])
def test_sliding_is_one_evalsha_whatever_the_number_of_rules(own_redis, rf, rules):
    backend = SlidingBackend("rl")
    hits = [hit(f"r{i}", 10) for i in range(rules)]
    backend.hit(rf.get("/"), hits)  # Loads the script and opens the connection.
    before = calls(own_redis)
    usages = backend.hit(rf.get("/"), hits)
    after = calls(own_redis)
    assert sent(before, after) == {"evalsha": 1}
    assert after["zadd"] - before["zadd"] == rules  # The script did run every rule.
    assert [usage.remaining for usage in usages] == [8] * rules


@pytest.mark.redis
def test_sliding_recovers_from_noscript_after_script_flush(own_redis, rf):
    backend = SlidingBackend("rl")
    backend.hit(rf.get("/"), [hit("r", 10)])
    own_redis.script_flush()
    before = calls(own_redis)
    [usage] = backend.hit(rf.get("/"), [hit("r", 10)])
    assert usage.remaining == 8
    assert sent(before, calls(own_redis)) == {"evalsha": 1, "eval": 1}
    before = calls(own_redis)
    backend.hit(rf.get("/"), [hit("r", 10)])
    assert sent(before, calls(own_redis)) == {"evalsha": 1}


@pytest.mark.redis
def test_sliding_keys_expire_with_their_window(unit_redis, rf):
    SlidingBackend("rl").hit(rf.get("/"), [hit("short", 5, 10), hit("long", 5, 3600)])
    assert unit_redis.zcard(":1:prodkit:rl:short:ip:203.0.113.7") == 1
    short = unit_redis.pttl(":1:prodkit:rl:short:ip:203.0.113.7")
    long = unit_redis.pttl(":1:prodkit:rl:long:ip:203.0.113.7")
    assert 9_000 < short <= 10_001
    assert 3_599_000 < long <= 3_600_001


@pytest.mark.redis
def test_sliding_key_follows_the_cache_key_prefix_and_hashes_long_values(
    unit_redis, settings, rf
):
    settings.CACHES["rl"]["KEY_PREFIX"] = "site"
    settings.CACHES = {**settings.CACHES}
    SlidingBackend("rl").hit(rf.get("/"), [hit("r", 5, key="x" * 100)])
    [key] = unit_redis.keys("*")
    assert key.startswith(b"site:1:prodkit:rl:r:")
    assert len(key) == len("site:1:prodkit:rl:r:") + 32


@pytest.mark.redis
def test_sliding_remaining_and_reset(unit_redis, rf):
    backend = SlidingBackend("rl")
    usages = [backend.hit(rf.get("/"), [hit("r", 3, 10)])[0] for _ in range(4)]
    assert [u.remaining for u in usages] == [2, 1, 0, 0]
    assert [u.limited for u in usages] == [False, False, False, True]
    assert all(9 <= u.reset <= 10 for u in usages)
    assert (usages[-1].limit, usages[-1].period) == (3, 10)
    assert unit_redis.zcard(":1:prodkit:rl:r:ip:203.0.113.7") == 3


@pytest.mark.redis
def test_sliding_window_frees_a_slot_when_the_oldest_entry_leaves(unit_redis, rf):
    backend = SlidingBackend("rl")
    first, _ = (backend.hit(rf.get("/"), [hit("r", 2, 1)])[0] for _ in range(2))
    [blocked] = backend.hit(rf.get("/"), [hit("r", 2, 1)])
    assert (first.remaining, blocked.limited, blocked.reset) == (1, True, 1)
    time.sleep(1.05)
    [again] = backend.hit(rf.get("/"), [hit("r", 2, 1)])
    assert (again.limited, again.remaining) == (False, 1)


@pytest.mark.redis
def test_sliding_blocked_request_writes_nothing(unit_redis, rf):
    backend = SlidingBackend("rl")
    hits = [hit("tight", 1), hit("roomy", 5)]
    backend.hit(rf.get("/"), hits)
    keys = sorted(unit_redis.keys("*"))
    members = [unit_redis.zrange(key, 0, -1) for key in keys]
    expiries = [unit_redis.pttl(key) for key in keys]
    time.sleep(0.01)
    tight, roomy = backend.hit(rf.get("/"), hits)
    assert (tight.limited, tight.remaining) == (True, 0)
    # The rule that still had room is neither counted nor marked limited.
    assert (roomy.limited, roomy.remaining) == (False, 4)
    assert sorted(unit_redis.keys("*")) == keys
    assert [unit_redis.zrange(key, 0, -1) for key in keys] == members
    # Not even the expiry was pushed back.
    assert all(
        unit_redis.pttl(key) < before
        for key, before in zip(keys, expiries, strict=True)
    )
    assert unit_redis.zcard(":1:prodkit:rl:roomy:ip:203.0.113.7") == 1


@pytest.mark.redis
def test_sliding_keys_are_separate_per_rule_and_key(unit_redis, rf):
    backend = SlidingBackend("rl")
    backend.hit(rf.get("/"), [hit("r", 1, key="ip:a")])
    [other_key] = backend.hit(rf.get("/"), [hit("r", 1, key="ip:b")])
    [other_rule] = backend.hit(rf.get("/"), [hit("s", 1, key="ip:a")])
    assert not other_key.limited
    assert not other_rule.limited


@pytest.mark.redis
def test_sliding_limit_zero_blocks_everything(unit_redis, rf):
    backend = SlidingBackend("rl")
    for _ in range(2):
        [usage] = backend.hit(rf.get("/"), [hit("closed", 0, 30)])
        assert (usage.limited, usage.remaining, usage.reset) == (True, 0, 30)
    assert unit_redis.keys("*") == []


def test_sliding_without_hits_does_nothing(settings, rf):
    settings.CACHES = {"default": LOCMEM, "rl": redis_cache("redis://127.0.0.1:1/0")}
    assert SlidingBackend("rl").hit(rf.get("/"), []) == []


@pytest.mark.redis
def test_sliding_on_a_dead_server_raises_backend_error(settings, rf):
    settings.CACHES = {
        "default": LOCMEM,
        "rl": redis_cache(f"redis://127.0.0.1:{closed_port()}/0"),
    }
    with pytest.raises(BackendError, match="Redis behind cache 'rl'") as raised:
        SlidingBackend("rl").hit(rf.get("/"), [hit("r", 5)])
    assert isinstance(raised.value.__cause__, redis.ConnectionError)


def test_sliding_on_a_cache_that_is_not_redis_raises_backend_error(settings, rf):
    settings.CACHES = {"default": LOCMEM, "rl": LOCMEM}
    with pytest.raises(BackendError):
        SlidingBackend("rl").hit(rf.get("/"), [hit("r", 5)])


# FixedBackend (django-ratelimit's get_usage on RATELIMIT_USE_CACHE)


def fixed_counts_and_blocks(rf) -> None:
    backend = FixedBackend("default")
    usages = [backend.hit(rf.get("/"), [hit("r", 2)])[0] for _ in range(3)]
    assert [u.remaining for u in usages] == [1, 0, 0]
    assert [u.limited for u in usages] == [False, False, True]
    assert all(1 <= u.reset <= 60 for u in usages)
    [other] = backend.hit(rf.get("/"), [hit("r", 2, key="ip:198.51.100.1")])
    assert (other.limited, other.remaining) == (False, 1)


def test_fixed_on_locmem(settings, rf):
    settings.CACHES = {"default": LOCMEM}
    cache.clear()
    fixed_counts_and_blocks(rf)


@pytest.mark.redis
def test_fixed_on_django_redis(unit_redis, settings, rf):
    settings.CACHES = {"default": redis_cache(redis_url())}
    fixed_counts_and_blocks(rf)
    keys = unit_redis.keys(":1:rl:*")
    assert len(keys) == 2
    # django-ratelimit keeps a counter for its window plus a few seconds of slack.
    assert all(0 < unit_redis.ttl(key) <= 65 for key in keys)


def test_fixed_stops_counting_at_the_first_rule_over_its_limit(settings, rf):
    settings.CACHES = {"default": LOCMEM}
    cache.clear()
    backend = FixedBackend("default")
    hits = [hit("tight", 1), hit("roomy", 5)]
    assert [u.remaining for u in backend.hit(rf.get("/"), hits)] == [0, 4]
    [tight] = backend.hit(rf.get("/"), hits)
    assert (tight.rule, tight.limited) == ("tight", True)
    [roomy] = backend.hit(rf.get("/"), [hit("roomy", 5)])
    assert roomy.remaining == 3  # Counted twice, not three times.


def test_fixed_limit_zero_blocks_everything(settings, rf):
    settings.CACHES = {"default": LOCMEM}
    cache.clear()
    [usage] = FixedBackend("default").hit(rf.get("/"), [hit("closed", 0)])
    assert (usage.limited, usage.remaining) == (True, 0)


def test_fixed_counts_nothing_when_django_ratelimit_is_disabled(settings, rf):
    settings.CACHES = {"default": LOCMEM}
    settings.RATELIMIT_ENABLE = False
    assert FixedBackend("default").hit(rf.get("/"), [hit("r", 0)]) == []


@pytest.mark.redis
@pytest.mark.parametrize("fail_open", [False, True])
def test_fixed_on_dead_redis_ignoring_exceptions_raises_not_limits(
    settings, rf, fail_open
):
    # With RATELIMIT_FAIL_OPEN django-ratelimit answers None, as if it were disabled.
    settings.RATELIMIT_FAIL_OPEN = fail_open
    settings.CACHES = {
        "default": redis_cache(
            f"redis://127.0.0.1:{closed_port()}/0", IGNORE_EXCEPTIONS=True
        )
    }
    with pytest.raises(BackendError, match="did not count the request"):
        FixedBackend("default").hit(rf.get("/"), [hit("r", 5)])


@pytest.mark.redis
def test_fixed_on_dead_redis_raises_backend_error(settings, rf):
    settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{closed_port()}/0")}
    with pytest.raises(BackendError, match="cache 'default'") as raised:
        FixedBackend("default").hit(rf.get("/"), [hit("r", 5)])
    assert isinstance(raised.value.__cause__, redis.ConnectionError)


def test_fixed_turns_a_plain_connection_error_into_backend_error(settings, rf):
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.RefusingCache"}}
    with pytest.raises(BackendError, match="connection refused") as raised:
        FixedBackend("default").hit(rf.get("/"), [hit("r", 5)])
    assert type(raised.value.__cause__) is ConnectionError


def test_unit_database_is_private():
    # Other modules use 0, 12, 13 and 15 on the shared server; flushing 11 is ours to do.
    assert UNIT_DB not in (0, 12, 13, 15)


FORK_TOKENS = """
import os
from django_prodkit.ratelimit import backends
parent = backends._PROCESS_TOKEN
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, backends._PROCESS_TOKEN.encode())
    os._exit(0)
os.close(write)
child = os.read(read, 64).decode()
os.waitpid(pid, 0)
print(parent, child)
"""


def test_forked_workers_write_distinct_log_entries():
    # A server that forks its workers after import (gunicorn --preload) must not give
    # them one token: two entries with the same member would count as one request.
    # Forked in a fresh interpreter: this one runs threads, which fork() warns about.
    completed = subprocess.run(
        [sys.executable, "-c", FORK_TOKENS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    parent, child = completed.stdout.split()
    assert len(parent) == len(child) == 12
    assert parent != child
