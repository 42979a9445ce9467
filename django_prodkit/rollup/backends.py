"""Where the roll-ups are kept: a Redis hash per minute and per hour, or any Django cache.

Both backends take *slots*: ``(kind, index, metric)`` with ``kind`` one of ``"m"`` (the
minute ``index``), ``"h"`` (the hour ``index``) or ``"t"`` (the running total, index 0).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from django.core.cache import caches

from django_prodkit import redis as prodkit_redis

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["Backend", "CacheBackend", "RedisBackend", "Slot", "Window"]

Kind = Literal["m", "h", "t"]
Slot = tuple[Kind, int, str]
Window = tuple[Kind, int]

# A minute is read for 24 hours; an hour must outlive the last full hour of such a window.
TTL: dict[str, int] = {"m": 25 * 3600, "h": 26 * 3600}


class Backend(Protocol):
    alias: str

    def write(self, slots: Counter[Slot]) -> None:
        """Add every slot's amount; a slot is removed from ``slots`` once it is written."""

    def read(
        self, windows: Sequence[Window], names: Sequence[str] | None
    ) -> list[dict[str, int]]:
        """Each window's counts: of ``names``, or of every metric when ``None``."""

    def read_totals(self) -> dict[str, int]:
        """Every metric's running total."""


class RedisBackend:
    """``HINCRBY`` into ``prodkit:rollup:m:<minute>``, ``…:h:<hour>`` and ``…:totals``.

    A write is one ``MULTI``/``EXEC``: all of it lands or none of it, in one round trip.
    A read is one pipeline of ``HMGET`` (or ``HGETALL``), one command per window.
    The cache's ``KEY_PREFIX`` and version apply to the three key shapes.
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._client: Redis | None = None
        self._template = ("", "")
        self._lock = threading.Lock()

    def write(self, slots: Counter[Slot]) -> None:
        client = self._connect()
        pipe = client.pipeline(transaction=True)
        expiring: dict[str, int] = {}
        for (kind, index, name), amount in slots.items():
            key = self._key(kind, index)
            pipe.hincrby(key, name, amount)
            if kind != "t":
                expiring[key] = TTL[kind]
        for key, seconds in expiring.items():
            pipe.expire(key, seconds)
        pipe.execute()
        slots.clear()

    def read(
        self, windows: Sequence[Window], names: Sequence[str] | None
    ) -> list[dict[str, int]]:
        if not windows or names == []:
            return [{} for _window in windows]
        pipe = self._connect().pipeline(transaction=False)
        for kind, index in windows:
            key = self._key(kind, index)
            if names is None:
                pipe.hgetall(key)
            else:
                pipe.hmget(key, names)
        replies = pipe.execute()
        if names is None:
            return [_decode(reply.items()) for reply in replies]
        return [_decode(zip(names, reply, strict=True)) for reply in replies]

    def read_totals(self) -> dict[str, int]:
        reply: dict[bytes, bytes] = self._connect().hgetall(self._key("t", 0))  # type: ignore[assignment]
        return _decode(reply.items())

    def _key(self, kind: Kind, index: int) -> str:
        head, tail = self._template
        if kind == "t":
            return f"{head}prodkit:rollup:totals{tail}"
        return f"{head}prodkit:rollup:{kind}:{index}{tail}"

    def _connect(self) -> Redis:
        """The client on the cache's shared pool, and the cache's key shape; once."""
        if self._client is None:
            # One thread builds it: django-redis creates its connection pool on first use
            # without a lock, and a pool built twice leaks the spare one.
            with self._lock:
                if self._client is None:
                    self._template = _key_template(self.alias)
                    self._client = prodkit_redis.get_client(self.alias)
        return self._client


def _key_template(alias: str) -> tuple[str, str]:
    marker = "\x00"
    made = str(caches[alias].make_key(marker))
    if made.count(marker) != 1:
        raise ValueError(f"the KEY_FUNCTION of cache {alias!r} changes keys")
    head, _marker, tail = made.partition(marker)
    return head, tail


def _decode(pairs: Iterable[tuple[bytes | str, bytes | str | None]]) -> dict[str, int]:
    return {
        name.decode() if isinstance(name, bytes) else name: int(value)
        for name, value in pairs
        if value is not None
    }


NAMES_KEY = "prodkit:rollup:names"
# What a key may hold on every cache backend (Memcached's rule, which Django checks for
# all of them): printable ASCII without spaces; anything else goes in as a hash.
_SAFE_NAME = re.compile(r"[!-~]{1,150}")


class CacheBackend:
    """One key per metric and slot, through ``cache.add`` and ``cache.incr``.

    ``prodkit:rollup:<metric>:<minute>``, ``…:h<hour>`` and ``…:total``. A cache cannot list
    its keys, so the metric names are also kept in one key, ``prodkit:rollup:names``,
    merged at each flush: concurrent flushes may drop a name from it, and the next flush
    of the process that knows it puts it back.
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._names: set[str] = set()

    def write(self, slots: Counter[Slot]) -> None:
        cache = caches[self.alias]
        self._register({name for _kind, _index, name in slots})
        for slot, amount in list(slots.items()):
            kind, index, name = slot
            key = self._key(kind, index, name)
            timeout = TTL.get(kind)  # None: the running total never expires.
            if not cache.add(key, amount, timeout):
                try:
                    cache.incr(key, amount)
                except ValueError:  # Expired between add and incr.
                    cache.add(key, amount, timeout)
            # Written: a failure further on must not count it a second time.
            del slots[slot]

    def read(
        self, windows: Sequence[Window], names: Sequence[str] | None
    ) -> list[dict[str, int]]:
        wanted = sorted(self._known()) if names is None else list(names)
        keys = {
            (kind, index, name): self._key(kind, index, name)
            for kind, index in windows
            for name in wanted
        }
        found = caches[self.alias].get_many(list(keys.values())) if keys else {}
        results: dict[Window, dict[str, int]] = {window: {} for window in windows}
        for (kind, index, name), key in keys.items():
            if (value := found.get(key)) is not None:
                results[(kind, index)][name] = int(value)
        return [results[window] for window in windows]

    def read_totals(self) -> dict[str, int]:
        [totals] = self.read([("t", 0)], None)
        return totals

    def _register(self, names: set[str]) -> None:
        self._names |= names
        cache = caches[self.alias]
        stored = set(cache.get(NAMES_KEY) or ())
        if not self._names <= stored:
            cache.set(NAMES_KEY, sorted(stored | self._names), None)

    def _known(self) -> set[str]:
        return set(caches[self.alias].get(NAMES_KEY) or ()) | self._names

    @staticmethod
    def _key(kind: Kind, index: int, name: str) -> str:
        if not _SAFE_NAME.fullmatch(name):
            name = "~" + hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
        if kind == "t":
            return f"prodkit:rollup:{name}:total"
        return f"prodkit:rollup:{name}:{'h' if kind == 'h' else ''}{index}"
