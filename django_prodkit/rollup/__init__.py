"""The shared roll-up store: per-minute counters that every instance adds to.

``add()`` counts in process memory and writes to ``PRODKIT["ROLLUP"]["CACHE"]`` at most every
``PRODKIT["ROLLUP"]["FLUSH_SECONDS"]``, so a flood of events costs one write now and then.
Each count is written three times: to its minute (kept 25 hours), to its hour (26 hours,
so that a day is read from about 140 keys instead of 1,440) and to its running total, which
never expires and feeds the Prometheus counters. On a django-redis cache a flush is one
round trip and so is a read; any other cache gets ``add``/``incr`` per key (see
``backends``). A failing cache is skipped through its circuit breaker; counts that could not
be written are kept for the next flush, and nothing here raises into a request.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping

from django.core.signals import setting_changed
from django.dispatch import receiver

from django_prodkit import conf
from django_prodkit import redis as prodkit_redis
from django_prodkit.breaker import CircuitBreaker, get_breaker
from django_prodkit.rollup.backends import (
    TTL,
    Backend,
    CacheBackend,
    RedisBackend,
    Slot,
    Window,
)

__all__ = [
    "StoreUnavailable",
    "add",
    "add_many",
    "flush",
    "per_minute",
    "register_source",
    "reset",
    "series",
    "tick",
    "total",
    "totals",
    "window",
]

logger = logging.getLogger("django_prodkit.rollup")


class StoreUnavailable(Exception):
    """The roll-up cache cannot be read now (it failed, or its breaker is open)."""


# Counts since the last flush, by minute; then what earlier flushes could not write.
_buffer: dict[int, dict[str, int]] = {}
_unwritten: Counter[Slot] = Counter()
_lock = threading.Lock()
_flush_lock = threading.Lock()
# When the next flush is due (time.monotonic()); the first event of a process flushes.
_next_flush = 0.0
_backend: Backend | None = None
Source = Callable[[], Mapping[int, Mapping[str, int]]]
_sources: list[Source] = []


def add(metric: str, amount: int = 1) -> None:
    """Count ``amount`` events of ``metric`` in the current minute."""
    add_many(((metric, amount),))


def add_many(counts: Iterable[tuple[str, int]]) -> None:
    """Count several ``(metric, amount)`` pairs at once: one lock, one clock read."""
    minute = int(time.time() // 60)
    with _lock:
        bucket = _buffer.get(minute)
        if bucket is None:
            bucket = _buffer[minute] = {}
        for metric, amount in counts:
            bucket[metric] = bucket.get(metric, 0) + amount
    tick()


def register_source(drain: Source) -> None:
    """Take counts from ``drain()`` at every flush: ``{minute: {metric: amount}}``.

    For a hot path that aggregates its events itself (one dict update per event rather
    than one per metric) and calls ``tick()``; ``drain`` returns its counts and forgets them.
    """
    if drain not in _sources:
        _sources.append(drain)


def tick() -> None:
    """Flush when ``FLUSH_SECONDS`` have passed since the last flush; cheap otherwise."""
    global _next_flush
    now = time.monotonic()
    if now < _next_flush:
        return
    with _lock:
        if now < _next_flush:
            return  # Another thread took this one.
        _next_flush = now + conf.get().rollup.flush_seconds
    flush(wait=False)


def flush(*, wait: bool = True) -> bool:
    """Write this process's pending counts; ``True`` when nothing is left pending.

    With ``wait=False`` it returns at once while another thread is flushing.
    """
    global _buffer
    if not _flush_lock.acquire(blocking=wait):
        return False
    try:
        drained = [drain() for drain in _sources]
        with _lock:
            buffer, _buffer = _buffer, {}
            slots = _unwritten.copy()
            _unwritten.clear()
        for minute, counts in (
            item for part in [buffer, *drained] for item in part.items()
        ):
            hour = minute // 60
            for metric, amount in counts.items():
                if amount:
                    slots[("m", minute, metric)] += amount
                    slots[("h", hour, metric)] += amount
                    slots[("t", 0, metric)] += amount
        if not slots:
            return True
        return _write(slots)
    finally:
        _flush_lock.release()


def _write(slots: Counter[Slot]) -> bool:
    backend, breaker = _store()
    if not breaker.allow():
        _keep(slots)
        return False
    try:
        backend.write(slots)
    except Exception as error:  # redis.RedisError, OSError, a cache's own errors...
        breaker.failure(error)
        _keep(slots)
        logger.debug("roll-up flush to cache %r failed: %s", backend.alias, error)
        return False
    breaker.success()
    return True


def _keep(slots: Counter[Slot]) -> None:
    """Keep unwritten counts for the next flush, except those that would have expired."""
    oldest = int(time.time() // 60) - TTL["m"] // 60
    with _lock:
        for (kind, index, metric), amount in slots.items():
            if kind == "t" or (index if kind == "m" else index * 60 + 59) >= oldest:
                _unwritten[(kind, index, metric)] += amount


def window(
    minutes: int = 1440,
    *,
    names: Collection[str] | None = None,
    prefixes: tuple[str, ...] = (),
) -> dict[str, int]:
    """Each metric's sum over the last ``minutes`` minutes, all instances.

    ``names`` reads only those metrics (one ``HMGET`` per key on Redis); otherwise every
    metric whose name starts with one of ``prefixes`` (all of them when empty).
    A cache that cannot be read leaves only this process's unwritten counts.
    """
    first, last = _span(minutes)
    windows: list[Window] = []
    minute = first
    while minute <= last:
        if minute % 60 == 0 and minute + 59 <= last:
            windows.append(("h", minute // 60))
            minute += 60
        else:
            windows.append(("m", minute))
            minute += 1
    sums: Counter[str] = Counter()
    for counts in _read(windows, names, strict=False):
        sums.update(counts)
    for counts in _local(first, last).values():
        sums.update(counts)
    return _select(sums, names, prefixes)


def per_minute(
    minutes: int = 1440, names: Collection[str] | None = None
) -> dict[int, dict[str, int]]:
    """``{minute since the epoch: {metric: count}}`` over the last ``minutes`` minutes.

    Minutes with no count of the wanted ``names`` (every metric when ``None``) are left out.
    """
    first, last = _span(minutes)
    windows: list[Window] = [("m", minute) for minute in range(first, last + 1)]
    found = {
        index: Counter(counts)
        for (_kind, index), counts in zip(
            windows, _read(windows, names, strict=False), strict=True
        )
        if counts
    }
    for minute, counts in _local(first, last).items():
        found.setdefault(minute, Counter()).update(counts)
    selected = {minute: _select(counts, names, ()) for minute, counts in found.items()}
    return {
        minute: counts for minute, counts in selected.items() if any(counts.values())
    }


def series(metric: str, minutes: int = 1440) -> dict[int, int]:
    """``{minute since the epoch: count}`` for the last ``minutes`` minutes, all instances."""
    return {
        minute: counts[metric]
        for minute, counts in per_minute(minutes, [metric]).items()
        if counts.get(metric)
    }


def total(metric: str, minutes: int = 1440) -> int:
    """The sum of ``metric`` over the last ``minutes`` minutes, all instances."""
    return window(minutes, names=[metric]).get(metric, 0)


def totals(prefixes: tuple[str, ...] = ()) -> dict[str, int]:
    """Every metric's running total since the store began, all instances.

    Raises ``StoreUnavailable`` when the cache cannot be read: a counter read from this
    process alone would go backwards.
    """
    [stored] = _read([("t", 0)], None, strict=True)
    found = Counter(stored)
    with _lock:
        for (kind, _index, metric), amount in _unwritten.items():
            if kind == "t":
                found[metric] += amount
    return _select(found, None, prefixes)


def _span(minutes: int) -> tuple[int, int]:
    if minutes < 1:
        raise ValueError(f"minutes must be at least 1, not {minutes}")
    last = int(time.time() // 60)
    return last - minutes + 1, last


def _read(
    windows: list[Window], names: Collection[str] | None, *, strict: bool
) -> list[dict[str, int]]:
    flush()
    backend, breaker = _store()
    problem: BaseException | None = None
    if breaker.allow():
        wanted = None if names is None else sorted(names)
        try:
            if windows == [("t", 0)]:
                found = [backend.read_totals()]
            else:
                found = backend.read(windows, wanted)
        except Exception as error:
            breaker.failure(error)
            problem = error
        else:
            breaker.success()
            return found
    if strict:
        reason = problem or f"circuit breaker of cache {backend.alias!r} is open"
        raise StoreUnavailable(str(reason)) from problem
    return [{} for _window in windows]


def _local(first: int, last: int) -> dict[int, Counter[str]]:
    """This process's counts from ``first`` to ``last`` that are not in the cache yet."""
    found: dict[int, Counter[str]] = {}
    with _lock:
        for (kind, index, metric), amount in _unwritten.items():
            if kind == "m" and first <= index <= last:
                found.setdefault(index, Counter())[metric] += amount
        for minute, counts in _buffer.items():
            if first <= minute <= last:
                found.setdefault(minute, Counter()).update(counts)
    return found


def _select(
    counts: Counter[str], names: Collection[str] | None, prefixes: tuple[str, ...]
) -> dict[str, int]:
    return {
        metric: amount
        for metric, amount in counts.items()
        if (names is None or metric in names)
        and (not prefixes or metric.startswith(prefixes))
    }


def _store() -> tuple[Backend, CircuitBreaker]:
    global _backend
    alias = conf.get().rollup.cache
    backend = _backend
    if backend is None or backend.alias != alias:
        with _lock:  # One backend, so one Redis client, however many threads ask.
            backend = _backend
            if backend is None or backend.alias != alias:
                backend = _backend = (
                    RedisBackend(alias)
                    if prodkit_redis.is_django_redis(alias)
                    else CacheBackend(alias)
                )
    return backend, get_breaker(f"cache:{alias}")


def reset() -> None:
    """Forget pending counts and the cache client (tests)."""
    global _next_flush, _backend
    for drain in _sources:
        drain()
    with _lock:
        _buffer.clear()
        _unwritten.clear()
        _next_flush = time.monotonic() + conf.get().rollup.flush_seconds
        _backend = None


@receiver(setting_changed, dispatch_uid="django_prodkit.rollup")
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    global _backend
    if setting in ("PRODKIT", "CACHES"):
        _backend = None


def _forget_parent_counts() -> None:
    # A forked worker starts empty: its parent writes what it counted itself.
    global _buffer, _backend, _flush_lock, _lock
    _buffer, _backend = {}, None
    _unwritten.clear()
    _lock, _flush_lock = threading.Lock(), threading.Lock()


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception as error:  # Settings or apps may be gone this late.
        logger.debug("roll-up flush at exit failed: %s", error)


os.register_at_fork(after_in_child=_forget_parent_counts)
atexit.register(_flush_at_exit)
