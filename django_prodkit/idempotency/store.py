"""Where keys live: one record per key, ``Running`` while the first request runs, then ``Done``.

The protocol, the same on every cache:

- ``acquire``: set the ``Running`` record if the key is absent, with an expiry of
  ``LOCK_TTL``; otherwise return the record that is there;
- ``complete``: replace the caller's own ``Running`` record by a ``Done`` record, with an
  expiry of ``TTL``; a record that is no longer the caller's (its lock expired and another
  request took the key) is left alone;
- ``release``: delete the caller's own ``Running`` record, and only that.

``RedisStore`` does each step in one atomic command or script, so it holds across every
process. ``CacheStore`` works on any Django cache: ``acquire`` is ``cache.add``, but
``complete`` and ``release`` read and then write, which is atomic only within one process.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from django_prodkit import conf
from django_prodkit import redis as prodkit_redis
from django_prodkit.breaker import CircuitBreaker, get_breaker

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    "CacheStore",
    "Done",
    "RedisStore",
    "Running",
    "Store",
    "StoreUnavailable",
    "decode",
    "encode",
    "get_store",
]

KEY_PREFIX = "prodkit:idem:"
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True, slots=True)
class Running:
    """The key is held by the request that owns ``token``; it sent ``fingerprint``."""

    token: str
    fingerprint: str


@dataclasses.dataclass(frozen=True, slots=True)
class Done:
    """The first request's answer; ``body`` is ``None`` when it was not kept."""

    fingerprint: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


Record = Running | Done


class StoreUnavailable(Exception):
    """The store cannot be used now: its cache failed, or its breaker is open."""


def encode(record: Record) -> bytes:
    """A JSON line, then the body's bytes as they are (no base64, no pickle)."""
    if isinstance(record, Running):
        meta: dict[str, object] = {
            "state": "running",
            "token": record.token,
            "fingerprint": record.fingerprint,
        }
        return json.dumps(meta, separators=(",", ":")).encode() + b"\n"
    meta = {
        "state": "done",
        "fingerprint": record.fingerprint,
        "status": record.status,
        "headers": [list(pair) for pair in record.headers],
        "body": record.body is not None,
    }
    # json.dumps escapes every newline, so the first one ends the JSON.
    line = json.dumps(meta, separators=(",", ":")).encode() + b"\n"
    return line + (record.body or b"")


def decode(value: bytes) -> Record:
    """The record that ``encode`` wrote; ``ValueError`` for anything else."""
    try:
        line, _newline, body = bytes(value).partition(b"\n")
        meta = json.loads(line)
        if meta["state"] == "running":
            return Running(
                token=str(meta["token"]), fingerprint=str(meta["fingerprint"])
            )
        if meta["state"] == "done":
            return Done(
                fingerprint=str(meta["fingerprint"]),
                status=int(meta["status"]),
                headers=tuple((str(name), str(val)) for name, val in meta["headers"]),
                body=body if meta["body"] else None,
            )
    except (TypeError, KeyError, ValueError) as error:
        raise ValueError(f"not an idempotency record: {error}") from error
    raise ValueError(f"not an idempotency record: state {meta['state']!r}")


class Store:
    """The protocol above, behind the circuit breaker of the cache ``alias``.

    Every method raises ``StoreUnavailable`` when the cache fails. ``acquire`` also
    raises it without calling the cache while the breaker is open; ``complete`` and
    ``release`` always try, since the request they finish has already run.
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.breaker: CircuitBreaker = get_breaker(f"cache:{alias}")

    def acquire(self, key: str, running: Running, lock_ttl: float) -> Record | None:
        """``None`` when the caller now holds ``key``; else the record that holds it."""
        if not self.breaker.allow():
            raise StoreUnavailable(f"cache {self.alias!r}: circuit breaker open")
        value = self._call(self._acquire, key, encode(running), lock_ttl)
        return None if value is None else self._decode(value)

    def complete(self, key: str, running: Running, done: Done, ttl: int) -> bool:
        """Store ``done`` in place of the caller's own ``running`` record."""
        return bool(self._call(self._complete, key, encode(running), encode(done), ttl))

    def release(self, key: str, running: Running) -> bool:
        """Free ``key`` if the caller still holds it."""
        return bool(self._call(self._release, key, encode(running)))

    def get(self, key: str) -> Record | None:
        """The record of ``key``, if any."""
        value = self._call(self._get, key)
        return None if value is None else self._decode(value)

    def _call(self, method: Callable[..., _T], *args: object) -> _T:
        try:
            result = method(*args)
        except Exception as error:  # redis.RedisError, OSError, pool exhaustion...
            self.breaker.failure(error)
            raise StoreUnavailable(f"cache {self.alias!r}: {error}") from error
        self.breaker.success()
        return result

    def _decode(self, value: bytes) -> Record:
        try:
            return decode(value)
        except ValueError as error:
            raise StoreUnavailable(f"cache {self.alias!r}: {error}") from error

    def _acquire(self, key: str, value: bytes, lock_ttl: float) -> bytes | None:
        raise NotImplementedError

    def _complete(self, key: str, expected: bytes, value: bytes, ttl: int) -> bool:
        raise NotImplementedError

    def _release(self, key: str, expected: bytes) -> bool:
        raise NotImplementedError

    def _get(self, key: str) -> bytes | None:
        raise NotImplementedError


# Replace or delete a record only if it is still the caller's own running record, byte
# for byte: the token inside it is random, so no other request wrote the same bytes.
COMPLETE_SCRIPT = prodkit_redis.ServerScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
)
RELEASE_SCRIPT = prodkit_redis.ServerScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
)


class RedisStore(Store):
    """Records in the Redis behind a django-redis cache, written as raw bytes.

    ``acquire`` is ``SET NX PX`` (and a ``GET`` when the key is taken); ``complete`` and
    ``release`` are one script each. The cache's ``KEY_PREFIX`` and version apply.
    """

    def __init__(self, alias: str) -> None:
        super().__init__(alias)
        self._client: Redis | None = None
        self._key_template: tuple[str, str] | None = None
        self._connect_lock = threading.Lock()

    def _acquire(self, key: str, value: bytes, lock_ttl: float) -> bytes | None:
        client, name = self._connect(key)
        milliseconds = max(math.ceil(lock_ttl * 1000), 1)
        # A record that expires between SET and GET leaves the key free: try again.
        for _attempt in range(3):
            if client.set(name, value, nx=True, px=milliseconds):
                return None
            existing: bytes | None = client.get(name)  # type: ignore[assignment]
            if existing is not None:
                return existing
        raise RuntimeError(f"key {name!r} kept expiring while it was acquired")

    def _complete(self, key: str, expected: bytes, value: bytes, ttl: int) -> bool:
        client, name = self._connect(key)
        return int(COMPLETE_SCRIPT(client, [name], [expected, value, ttl * 1000])) == 1

    def _release(self, key: str, expected: bytes) -> bool:
        client, name = self._connect(key)
        return int(RELEASE_SCRIPT(client, [name], [expected])) == 1

    def _get(self, key: str) -> bytes | None:
        client, name = self._connect(key)
        value: bytes | None = client.get(name)  # type: ignore[assignment]
        return value

    def _connect(self, key: str) -> tuple[Redis, str]:
        """The client, and ``key`` as the cache would name it; looked up once."""
        if self._client is None or self._key_template is None:
            # One thread builds it: django-redis creates its shared connection pool
            # on first use without a lock, and a pool built twice leaks the spare one.
            with self._connect_lock:
                if self._client is None or self._key_template is None:
                    self._client, self._key_template = self._build()
        head, tail = self._key_template
        return self._client, f"{head}{key}{tail}"

    def _build(self) -> tuple[Redis, tuple[str, str]]:
        marker = "\x00"
        made = str(caches[self.alias].make_key(marker))
        if made.count(marker) != 1:
            raise ValueError(f"the KEY_FUNCTION of cache {self.alias!r} changes keys")
        head, _marker, tail = made.partition(marker)
        return prodkit_redis.get_client(self.alias), (head, tail)


# One lock for every CacheStore of this process: enough to make complete and release
# atomic between the threads of one process, and nothing more.
_PROCESS_LOCK = threading.Lock()


class CacheStore(Store):
    """Records in any Django cache, through its API.

    ``acquire`` is ``cache.add``, atomic wherever the backend's ``add`` is; ``complete``
    and ``release`` read and then write under a lock of this process only. Expiries are
    whole seconds (``LOCK_TTL`` is rounded up), as some backends truncate fractions.
    """

    def _acquire(self, key: str, value: bytes, lock_ttl: float) -> bytes | None:
        cache = caches[self.alias]
        timeout = max(math.ceil(lock_ttl), 1)
        for _attempt in range(3):
            if cache.add(key, value, timeout):
                return None
            existing: bytes | None = cache.get(key)
            if existing is not None:
                return existing
        raise RuntimeError(f"key {key!r} kept expiring while it was acquired")

    def _complete(self, key: str, expected: bytes, value: bytes, ttl: int) -> bool:
        cache = caches[self.alias]
        with _PROCESS_LOCK:
            if cache.get(key) != expected:
                return False
            cache.set(key, value, ttl)
        return True

    def _release(self, key: str, expected: bytes) -> bool:
        cache = caches[self.alias]
        with _PROCESS_LOCK:
            if cache.get(key) != expected:
                return False
            cache.delete(key)
        return True

    def _get(self, key: str) -> bytes | None:
        value: bytes | None = caches[self.alias].get(key)
        return value


_current: tuple[conf.IdempotencySettings, Store] | None = None


def get_store() -> Store:
    """The store of the current settings: ``RedisStore`` on a django-redis cache."""
    global _current
    options = conf.get().idempotency
    current = _current
    if current is not None and current[0] is options:
        return current[1]
    store: Store = (
        RedisStore(options.cache)
        if prodkit_redis.is_django_redis(options.cache)
        else CacheStore(options.cache)
    )
    _current = (options, store)
    return store


@receiver(setting_changed, dispatch_uid="django_prodkit.idempotency.store")
def _reset(*, setting: str, **kwargs: object) -> None:
    global _current
    if setting in ("PRODKIT", "CACHES"):
        _current = None
