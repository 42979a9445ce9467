"""The shared roll-up store: per-minute counters that every instance adds to.

``add()`` counts in process memory and writes to the cache at most every
``PRODKIT["ROLLUP"]["FLUSH_SECONDS"]``, so a flood of events costs a handful of cache writes;
``total()`` reads the last N minutes from the cache, where every instance's counts meet.
Counters live in ``PRODKIT["ROLLUP"]["CACHE"]`` (a shared cache such as Redis in production)
for 25 hours. A failing cache is skipped through its circuit breaker; counts that could not
be written are kept for the next flush.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from django.core.cache import caches

from django_prodkit import conf
from django_prodkit.breaker import get_breaker

__all__ = ["add", "flush", "series", "total"]

logger = logging.getLogger("django_prodkit.rollup")

TTL_SECONDS = 25 * 3600

_pending: Counter[tuple[str, int]] = Counter()
_lock = threading.Lock()
_last_flush = time.monotonic()


def _minute(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // 60)


def _key(metric: str, minute: int) -> str:
    return f"prodkit:rollup:{metric}:{minute}"


def add(metric: str, amount: int = 1) -> None:
    """Count ``amount`` events of ``metric`` in the current minute."""
    global _last_flush
    with _lock:
        _pending[(metric, _minute())] += amount
        due = time.monotonic() - _last_flush >= conf.get().rollup.flush_seconds
        if due:
            _last_flush = time.monotonic()
    if due:
        flush()


def flush() -> None:
    """Write this process's pending counts to the shared cache."""
    with _lock:
        pending = dict(_pending)
        _pending.clear()
    if not pending:
        return
    alias = conf.get().rollup.cache
    breaker = get_breaker(f"cache:{alias}")
    if not breaker.allow():
        _restore(pending)
        return
    cache = caches[alias]
    try:
        for (metric, minute), amount in list(pending.items()):
            key = _key(metric, minute)
            if not cache.add(key, amount, TTL_SECONDS):
                try:
                    cache.incr(key, amount)
                except ValueError:  # Expired between add and incr.
                    cache.add(key, amount, TTL_SECONDS)
            # Written: a failure further on must not count it a second time.
            del pending[(metric, minute)]
    except Exception as error:
        breaker.failure(error)
        _restore(pending)
        logger.debug("roll-up flush to cache %r failed: %s", alias, error)
        return
    breaker.success()


def _restore(pending: dict[tuple[str, int], int]) -> None:
    with _lock:
        _pending.update(pending)


def series(metric: str, minutes: int = 1440) -> dict[int, int]:
    """``{minute since the epoch: count}`` for the last ``minutes`` minutes, all instances."""
    flush()
    now = _minute()
    wanted = {
        _key(metric, minute): minute for minute in range(now - minutes + 1, now + 1)
    }
    alias = conf.get().rollup.cache
    breaker = get_breaker(f"cache:{alias}")
    found: dict[str, object] = {}
    if breaker.allow():
        try:
            found = caches[alias].get_many(list(wanted))
        except Exception as error:
            breaker.failure(error)
        else:
            breaker.success()
    counts = {wanted[key]: int(value) for key, value in found.items()}  # type: ignore[call-overload]
    with _lock:  # Counts this process could not write yet.
        for (name, minute), amount in _pending.items():
            if name == metric and minute > now - minutes:
                counts[minute] = counts.get(minute, 0) + amount
    return counts


def total(metric: str, minutes: int = 1440) -> int:
    """The sum of ``metric`` over the last ``minutes`` minutes, all instances."""
    return sum(series(metric, minutes).values())


def reset() -> None:
    """Forget pending counts (tests)."""
    global _last_flush
    with _lock:
        _pending.clear()
        _last_flush = time.monotonic()
