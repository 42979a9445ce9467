from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, ClassVar

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from django_prodkit import rollup
from django_prodkit.breaker import CircuitBreaker, get_breaker
from django_prodkit.rollup.backends import NAMES_KEY, CacheBackend
from tests.dead_services import closed_port

FLUSH = 1.0  # Wide enough that 100 adds never span it, even on a slow machine.


class CountingCache(LocMemCache):
    """LocMem that records every counter write the roll-up makes."""

    writes: ClassVar[list[tuple[str, str]]] = []

    def add(self, key: Any, *args: Any, **kwargs: Any) -> bool:
        self.writes.append(("add", key))
        return super().add(key, *args, **kwargs)

    def incr(self, key: Any, *args: Any, **kwargs: Any) -> int:
        self.writes.append(("incr", key))
        return super().incr(key, *args, **kwargs)


class FlakyCache(CountingCache):
    """Fails to write any key of a metric named ``poison`` while ``broken``."""

    broken: ClassVar[bool] = True

    def add(self, key: Any, *args: Any, **kwargs: Any) -> bool:
        if self.broken and ":poison:" in key:
            raise ConnectionError("connection reset by peer")
        return super().add(key, *args, **kwargs)


COUNTING = {
    "BACKEND": f"{__name__}.CountingCache",
    "LOCATION": "prodkit-rollup-tests",
}


@pytest.fixture
def redis_db_number() -> int:
    return 9  # The metrics tests' database.


@pytest.fixture(autouse=True)
def _rollup(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "rollup": COUNTING,
    }
    settings.PRODKIT = {
        "ROLLUP": {"CACHE": "rollup", "FLUSH_SECONDS": FLUSH},
        "REDIS": {"BREAKER_FAILURES": 2, "BREAKER_SECONDS": 0.2},
    }
    caches["rollup"].clear()
    CountingCache.writes.clear()
    get_breaker("cache:rollup").reset()
    rollup.reset()
    yield
    rollup.reset()
    get_breaker("cache:rollup").reset()


def redis_cache(location: str, key_prefix: str = "", **options: Any) -> dict[str, Any]:
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, **options},
    }


def state(breaker: CircuitBreaker) -> str:
    return breaker.state  # Read anew each time (mypy would narrow the attribute).


def this_minute() -> int:
    """The current minute, waiting out the end of one so that a test stays inside it.

    Call it before counting anything: a wait restarts the flush period.
    """
    if time.time() % 60 > 58:
        time.sleep(60 - time.time() % 60 + 0.01)
        rollup.reset()
    return int(time.time() // 60)


def written(kind: str) -> list[str]:
    return sorted(key for op, key in CountingCache.writes if op == kind)


# Any Django cache: add/incr per key.


def test_add_buffers_and_writes_at_most_once_per_flush_period():
    this_minute()
    for _ in range(100):
        rollup.add("requests")
    assert CountingCache.writes == []

    time.sleep(FLUSH + 0.05)
    rollup.add("requests")  # Due: this one flushes everything pending.
    assert len(CountingCache.writes) == 3  # Its minute, its hour, its total.
    for _ in range(100):
        rollup.add("requests", 2)
    assert len(CountingCache.writes) == 3

    assert rollup.total("requests") == 301


def test_one_flush_writes_each_metric_to_its_minute_hour_and_total():
    minute = this_minute()
    rollup.add("a", 3)
    rollup.add_many([("b", 1), ("a", 1)])
    rollup.flush()
    hour = minute // 60
    assert written("add") == sorted(
        f"prodkit:rollup:{name}:{slot}"
        for name in ("a", "b")
        for slot in (minute, f"h{hour}", "total")
    )
    assert (rollup.total("a"), rollup.total("b")) == (4, 1)
    assert caches["rollup"].get(f"prodkit:rollup:a:{minute}") == 4
    assert caches["rollup"].get(f"prodkit:rollup:a:h{hour}") == 4
    assert caches["rollup"].get("prodkit:rollup:a:total") == 4


def test_counts_add_up_across_instances():
    minute = this_minute()
    rollup.add("jobs", 3)
    rollup.flush()  # The first instance creates the minute's counter...
    rollup.reset()  # ...a second one, which does not know the metric yet, adds to it.
    rollup.add("jobs", 4)
    rollup.flush()
    assert [op for op, _ in CountingCache.writes] == ["add"] * 3 + ["add", "incr"] * 3
    assert caches["rollup"].get(f"prodkit:rollup:jobs:{minute}") == 7
    assert rollup.total("jobs") == 7
    assert rollup.series("jobs", 5) == {minute: 7}
    assert rollup.totals() == {"jobs": 7}


def test_flush_with_nothing_pending_writes_nothing():
    assert rollup.flush() is True
    assert rollup.total("nothing") == 0
    assert CountingCache.writes == []


def test_flush_failing_part_way_keeps_only_the_unwritten_counts(settings):
    settings.PRODKIT = {**settings.PRODKIT, "REDIS": {"BREAKER_FAILURES": 5}}
    settings.CACHES = {
        **settings.CACHES,
        "rollup": {**COUNTING, "BACKEND": f"{__name__}.FlakyCache"},
    }
    now = this_minute()
    rollup.add("fine", 2)
    rollup.add("poison", 3)
    FlakyCache.broken = True
    try:
        assert rollup.flush() is False
        assert get_breaker("cache:rollup").failures == 1
        # Meanwhile a reader sees the unwritten counts of this process.
        assert rollup.series("poison", 5) == {now: 3}
        FlakyCache.broken = False
        assert rollup.flush() is True
    finally:
        FlakyCache.broken = True
    for slot in (now, f"h{now // 60}", "total"):
        assert caches["rollup"].get(f"prodkit:rollup:fine:{slot}") == 2
        assert caches["rollup"].get(f"prodkit:rollup:poison:{slot}") == 3


def seed(counts: dict[tuple[str, int, str], int]) -> None:
    CacheBackend("rollup").write(Counter(counts))  # type: ignore[arg-type]


def test_series_window_includes_exactly_the_last_n_minutes():
    now = this_minute()
    seed(
        {
            ("m", now, "hits"): 1,
            ("m", now - 4, "hits"): 10,
            ("m", now - 5, "hits"): 100,
            ("m", now - 60, "hits"): 1000,
        }
    )
    assert rollup.series("hits", 5) == {now: 1, now - 4: 10}
    assert rollup.series("hits", 6) == {now: 1, now - 4: 10, now - 5: 100}
    assert rollup.series("hits", 1) == {now: 1}


def test_a_window_reads_whole_hours_from_the_hour_and_the_edges_by_minute():
    now = this_minute()
    full_hour = now // 60 - 2  # Wholly inside the last three hours.
    # Only the hour is seeded, not its minutes: a read that uses it finds 500.
    seed(
        {
            ("h", full_hour, "hits"): 500,
            ("m", full_hour * 60 - 1, "hits"): 7,
            ("m", now, "hits"): 1,
            ("h", now // 60, "hits"): 1,  # Read instead in the hour's last minute.
        }
    )
    assert rollup.total("hits", now - full_hour * 60 + 1) == 501
    assert rollup.total("hits", now - full_hour * 60 + 2) == 508
    # Part of that hour: read minute by minute, which have nothing.
    assert rollup.total("hits", now - full_hour * 60) == 1
    # From the minute before that hour, wherever the current minute is in its own hour
    # (a fixed 180 missed that minute in the last minute of every hour).
    window = now - full_hour * 60 + 2
    assert rollup.window(window, prefixes=("hi",)) == {"hits": 508}


def test_series_of_one_metric_ignores_others():
    now = this_minute()
    rollup.add("one", 2)
    rollup.add("other", 5)
    assert rollup.series("one", 1) == {now: 2}
    assert rollup.per_minute(1) == {now: {"one": 2, "other": 5}}
    assert rollup.window(1, prefixes=("oth",)) == {"other": 5}


def test_totals_never_expire_and_minutes_and_hours_do():
    minute = this_minute()
    rollup.add("kept")
    rollup.flush()
    cache = caches["rollup"]

    def expiry(slot):
        key = cache.make_and_validate_key(f"prodkit:rollup:kept:{slot}")
        return cache._expire_info[key]  # type: ignore[attr-defined]

    assert 25 * 3600 - 5 < expiry(minute) - time.time() <= 25 * 3600
    assert 26 * 3600 - 5 < expiry(f"h{minute // 60}") - time.time() <= 26 * 3600
    assert expiry("total") is None


def test_names_that_are_not_valid_cache_keys_are_hashed():
    this_minute()
    name = "http.requests|/a b/<slug:slug>/|GET|2xx" + "x" * 300
    rollup.add(name, 2)
    rollup.flush()  # A CacheKeyWarning would fail the test.
    assert all(len(key) < 100 for _op, key in CountingCache.writes)
    assert rollup.totals() == {name: 2}
    assert rollup.window(5, prefixes=("http.",)) == {name: 2}


def test_a_name_lost_from_the_shared_list_comes_back_at_the_next_flush():
    rollup.add("rare")
    rollup.flush()
    caches["rollup"].set(NAMES_KEY, ["other"], None)  # Another process overwrote it.
    rollup.add("rare")
    rollup.flush()
    assert sorted(caches["rollup"].get(NAMES_KEY)) == ["other", "rare"]


def test_threads_adding_at_once_lose_no_count():
    this_minute()

    def work():
        for _ in range(2000):
            rollup.add_many([("threads", 1), ("threads.sum", 3)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert rollup.window(5, names=["threads", "threads.sum"]) == {
        "threads": 8000,
        "threads.sum": 24000,
    }


def test_unwritten_counts_older_than_the_store_keeps_are_dropped():
    now = this_minute()
    old, recent = now - 25 * 60 - 1, now - 10
    rollup._keep(
        Counter(
            {
                ("m", old, "x"): 1,
                ("h", old // 60 - 1, "x"): 1,
                ("m", recent, "x"): 2,
                ("h", recent // 60, "x"): 2,
                ("t", 0, "x"): 3,
            }
        )
    )
    assert sorted(rollup._unwritten) == [
        ("h", recent // 60, "x"),
        ("m", recent, "x"),
        ("t", 0, "x"),
    ]


@pytest.fixture
def source():
    """A capability that aggregates its own counts and hands them over at a flush."""
    pending: dict[int, dict[str, int]] = {}

    def drain() -> dict[int, dict[str, int]]:
        taken = dict(pending)
        pending.clear()
        return taken

    rollup.register_source(drain)
    rollup.register_source(drain)  # Once is enough.
    yield pending
    rollup._sources.remove(drain)
    assert drain not in rollup._sources


def test_a_source_is_drained_by_every_flush_and_by_reset(source):
    minute = this_minute()
    source[minute] = {"sourced": 4}
    rollup.add("direct")
    rollup.flush()
    assert source == {}
    assert rollup.totals() == {"sourced": 4, "direct": 1}
    source[minute] = {"sourced": 1}
    assert rollup.total("sourced") == 5  # A read flushes first.
    source[minute] = {"forgotten": 1}
    rollup.reset()
    assert source == {}


def test_tick_flushes_once_per_period():
    this_minute()
    rollup.add("ticked")
    rollup.tick()
    assert CountingCache.writes == []
    time.sleep(FLUSH + 0.05)
    rollup.tick()
    rollup.tick()
    assert len(CountingCache.writes) == 3


def test_window_needs_at_least_one_minute():
    with pytest.raises(ValueError, match="minutes must be at least 1, not 0"):
        rollup.total("x", 0)


# django-redis: hashes, one round trip per flush and per read.


@pytest.fixture
def counting_redis(settings, redis_db, key_prefix):
    """The roll-up cache on Redis, through connections that count their round trips."""
    import redis

    class CountingConnection(redis.Connection):
        sent: ClassVar[list[int]] = []

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            CountingConnection.sent.append(1)
            super().send_packed_command(command, check_health)

    # A URL of its own: django-redis shares one pool per URL, and this one must be new.
    url = f"{redis_db}?client_name={key_prefix}"
    settings.CACHES = {
        **settings.CACHES,
        "rollup": redis_cache(
            url,
            key_prefix,
            CONNECTION_POOL_KWARGS={"connection_class": CountingConnection},
        ),
    }
    rollup.reset()
    server = redis.Redis.from_url(redis_db)
    yield server, CountingConnection.sent
    server.close()


@pytest.mark.redis
def test_redis_flush_is_one_round_trip_into_three_hashes(
    counting_redis, key_prefix, source
):
    server, sent = counting_redis
    minute = this_minute()
    rollup.add("warm-up")
    rollup.flush()  # Connects (CLIENT SETINFO...) and writes.
    sent.clear()
    rollup.add_many([("a", 2), ("b", 4), ("a", 1)])
    source[minute] = {"b": 1}
    rollup.flush()
    assert len(sent) == 1

    head = f"{key_prefix}:1:prodkit:rollup"
    assert server.hgetall(f"{head}:m:{minute}") == {
        b"warm-up": b"1",
        b"a": b"3",
        b"b": b"5",
    }
    assert server.hgetall(f"{head}:h:{minute // 60}")[b"a"] == b"3"
    assert server.hgetall(f"{head}:totals") == {
        b"warm-up": b"1",
        b"a": b"3",
        b"b": b"5",
    }
    assert 25 * 3600 - 5 < server.ttl(f"{head}:m:{minute}") <= 25 * 3600
    assert 26 * 3600 - 5 < server.ttl(f"{head}:h:{minute // 60}") <= 26 * 3600
    assert server.ttl(f"{head}:totals") == -1


@pytest.mark.redis
def test_redis_reads_a_day_in_one_round_trip(counting_redis):
    this_minute()
    rollup.add_many([("a", 2), ("b", 5)])
    rollup.flush()
    sent = counting_redis[1]
    for read in (
        lambda: rollup.window(1440, names=["a", "b"]),
        lambda: rollup.window(1440, prefixes=("a",)),
        lambda: rollup.per_minute(1440, ["a"]),
        rollup.totals,
    ):
        sent.clear()
        assert read()
        assert len(sent) == 1
    assert rollup.window(1440, names=["a", "b"]) == {"a": 2, "b": 5}
    assert rollup.totals() == {"a": 2, "b": 5}


@pytest.mark.redis
def test_redis_down_keeps_counts_pending_then_writes_them_once(
    settings, redis_db, key_prefix
):
    import redis

    dead = redis_cache(f"redis://127.0.0.1:{closed_port()}/0")
    settings.CACHES = {**settings.CACHES, "rollup": dead}
    breaker = get_breaker("cache:rollup")
    now = this_minute()

    rollup.add("orders", 5)
    assert rollup.flush() is False
    assert (breaker.state, breaker.failures) == ("closed", 1)
    rollup.add("orders", 2)
    rollup.flush()
    assert state(breaker) == "open"
    # Open: the next flush does not even try, and no count is lost meanwhile.
    rollup.add("orders", 1)
    rollup.flush()
    assert breaker.failures == 2
    assert rollup.series("orders", 5) == {now: 8}
    assert rollup.total("orders", 5) == 8
    with pytest.raises(rollup.StoreUnavailable, match="circuit breaker"):
        rollup.totals()
    assert breaker.failures == 2

    settings.CACHES = {**settings.CACHES, "rollup": redis_cache(redis_db, key_prefix)}
    time.sleep(0.25)  # BREAKER_SECONDS: the next flush is the probe.
    server = redis.Redis.from_url(redis_db)
    head = f"{key_prefix}:1:prodkit:rollup"
    try:
        assert rollup.flush() is True
        assert state(breaker) == "closed"
        assert server.hget(f"{head}:m:{now}", "orders") == b"8"
        assert rollup.series("orders", 5) == {now: 8}
        rollup.add("orders", 1)
        rollup.flush()
        assert server.hget(f"{head}:m:{now}", "orders") == b"9"
        assert server.hget(f"{head}:totals", "orders") == b"9"
        assert rollup.totals() == {"orders": 9}
    finally:
        server.close()


class UnreadableCache(LocMemCache):
    """Writes work, reads fail: a cache that broke between a flush and a read."""

    def get_many(self, keys: Any, version: Any = None) -> dict[str, Any]:
        raise ConnectionError("read timed out")


def test_a_failing_read_shows_this_process_or_raises_for_totals(settings):
    settings.CACHES = {
        **settings.CACHES,
        "rollup": {**COUNTING, "BACKEND": f"{__name__}.UnreadableCache"},
    }
    settings.PRODKIT = {**settings.PRODKIT, "REDIS": {"BREAKER_FAILURES": 5}}
    now = this_minute()
    rollup.add("seen", 2)
    assert rollup.series("seen", 5) == {}  # Written, then unreadable.
    assert get_breaker("cache:rollup").failures == 1
    with pytest.raises(rollup.StoreUnavailable, match="read timed out"):
        rollup.totals()
    settings.CACHES = {**settings.CACHES, "rollup": COUNTING}
    assert rollup.series("seen", 5) == {now: 2}


@pytest.mark.redis
def test_a_key_function_that_changes_keys_keeps_the_counts(settings, redis_db):
    settings.CACHES = {
        **settings.CACHES,
        "rollup": {
            **redis_cache(redis_db, "x"),
            "KEY_FUNCTION": "tests.test_rollup.hashed_key",
        },
    }
    now = this_minute()
    rollup.add("kept", 3)
    assert rollup.flush() is False
    assert "KEY_FUNCTION" in get_breaker("cache:rollup").last_error
    assert rollup.series("kept", 1) == {now: 3}


def hashed_key(key: str, key_prefix: str, version: int) -> str:
    return str(hash((key, key_prefix, version)))
