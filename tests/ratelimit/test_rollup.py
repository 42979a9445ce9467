from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from django_prodkit import rollup
from django_prodkit.breaker import CircuitBreaker, get_breaker
from tests.health.proxy import closed_port
from tests.ratelimit.unit_helpers import redis_cache, redis_url

FLUSH = 1.0  # Wide enough that 100 adds never span it, even on a slow machine.


class CountingCache(LocMemCache):
    """LocMem that records every write the roll-up makes."""

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


def test_add_buffers_and_writes_at_most_once_per_flush_period():
    this_minute()
    for _ in range(100):
        rollup.add("requests")
    assert CountingCache.writes == []

    time.sleep(FLUSH + 0.05)
    rollup.add("requests")  # Due: this one flushes everything pending.
    assert len(CountingCache.writes) == 1
    for _ in range(100):
        rollup.add("requests", 2)
    assert len(CountingCache.writes) == 1

    assert rollup.total("requests") == 301


def test_one_flush_writes_one_key_per_metric_and_minute():
    this_minute()
    rollup.add("a", 3)
    rollup.add("b")
    rollup.add("a")
    rollup.flush()
    assert sorted(op for op, _ in CountingCache.writes) == ["add", "add"]
    assert (rollup.total("a"), rollup.total("b")) == (4, 1)


def test_totals_add_up_across_instances():
    minute = this_minute()
    rollup.add("jobs", 3)
    rollup.flush()  # The first instance creates the minute's counter...
    rollup.add("jobs", 4)
    rollup.flush()  # ...a second one adds to it.
    assert [op for op, _ in CountingCache.writes] == ["add", "add", "incr"]
    assert caches["rollup"].get(f"prodkit:rollup:jobs:{minute}") == 7
    assert rollup.total("jobs") == 7
    assert rollup.series("jobs", 5) == {minute: 7}


def test_flush_with_nothing_pending_writes_nothing():
    rollup.flush()
    assert rollup.total("nothing") == 0
    assert CountingCache.writes == []


def test_flush_failing_part_way_keeps_only_the_unwritten_counts(settings):
    settings.CACHES = {
        **settings.CACHES,
        "rollup": {**COUNTING, "BACKEND": f"{__name__}.FlakyCache"},
    }
    now = this_minute()
    rollup.add("fine", 2)
    rollup.add("poison", 3)
    FlakyCache.broken = True
    try:
        rollup.flush()
        assert get_breaker("cache:rollup").failures == 1
        FlakyCache.broken = False
        rollup.flush()
    finally:
        FlakyCache.broken = True
    assert caches["rollup"].get(f"prodkit:rollup:fine:{now}") == 2
    assert caches["rollup"].get(f"prodkit:rollup:poison:{now}") == 3


def test_series_window_includes_exactly_the_last_n_minutes():
    now = this_minute()
    cache = caches["rollup"]
    for minute, count in ((now, 1), (now - 4, 10), (now - 5, 100), (now - 60, 1000)):
        cache.set(f"prodkit:rollup:hits:{minute}", count)
    assert rollup.series("hits", 5) == {now: 1, now - 4: 10}
    assert rollup.series("hits", 6) == {now: 1, now - 4: 10, now - 5: 100}
    assert rollup.series("hits", 1) == {now: 1}
    assert rollup.total("hits", 61) == 1111
    assert rollup.total("hits") == 1111


def test_series_of_one_metric_ignores_others():
    now = this_minute()
    rollup.add("one", 2)
    rollup.add("other", 5)
    assert rollup.series("one", 1) == {now: 2}


@pytest.mark.redis
def test_cache_down_keeps_counts_pending_then_writes_them_once_it_works(settings):
    pytest.importorskip("django_redis")
    import redis

    dead = redis_cache(f"redis://127.0.0.1:{closed_port()}/0")
    settings.CACHES = {**settings.CACHES, "rollup": dead}
    breaker = get_breaker("cache:rollup")
    now = this_minute()

    rollup.add("orders", 5)
    rollup.flush()
    assert (breaker.state, breaker.failures) == ("closed", 1)
    rollup.add("orders", 2)
    rollup.flush()
    assert state(breaker) == "open"
    # Open: the next flush does not even try, and no count is lost meanwhile.
    rollup.add("orders", 1)
    rollup.flush()
    assert breaker.failures == 2
    assert rollup.series("orders", 5) == {now: 8}
    assert breaker.failures == 2

    server = redis.Redis.from_url(redis_url())
    server.flushdb()
    settings.CACHES = {**settings.CACHES, "rollup": redis_cache(redis_url())}
    time.sleep(0.25)  # BREAKER_SECONDS: the next flush is the probe.
    try:
        rollup.flush()
        assert state(breaker) == "closed"
        assert int(server.get(f":1:prodkit:rollup:orders:{now}") or 0) == 8
        assert rollup.series("orders", 5) == {now: 8}
        rollup.add("orders", 1)
        rollup.flush()
        assert int(server.get(f":1:prodkit:rollup:orders:{now}") or 0) == 9
        assert server.ttl(f":1:prodkit:rollup:orders:{now}") > 24 * 3600
    finally:
        server.flushdb()
        server.close()
