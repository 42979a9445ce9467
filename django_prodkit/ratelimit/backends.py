"""The two algorithms behind one interface: ``backend.hit(hits) -> list[Usage]``.

``fixed`` counts fixed windows through django-ratelimit's own ``get_usage`` on any Django
cache. ``sliding`` keeps a sliding log per key in Redis and checks every rule that matches a
request in one server-side script: one round trip, atomic, exact at window edges.

Both raise ``BackendError`` when the store fails; the caller feeds the circuit breaker and
applies ``FAIL``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from django.conf import settings
from django.core.cache import caches
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

from django_prodkit import redis as prodkit_redis

if TYPE_CHECKING:
    from django.http import HttpRequest
    from redis import Redis

__all__ = ["BackendError", "FixedBackend", "Hit", "SlidingBackend", "Usage"]


class BackendError(Exception):
    """The counter store failed; ``__cause__`` holds the original error."""


# Named tuples rather than frozen dataclasses: several are built per request, and a
# tuple is built in a third of the time.
class Hit(NamedTuple):
    """One rule to count for one request."""

    rule: str
    key: str
    limit: int
    period: int


class Usage(NamedTuple):
    """Where one rule stands after this request."""

    rule: str
    limit: int
    period: int
    remaining: int
    reset: int  # seconds until the window frees a slot (sliding) or ends (fixed)
    limited: bool


class Backend(Protocol):
    name: str
    alias: str

    def hit(self, request: HttpRequest, hits: Sequence[Hit]) -> list[Usage]: ...


def _key_part(value: str) -> str:
    """A key's value as it goes into a counter key: readable when short, else hashed."""
    if len(value) <= 64 and value.isprintable() and " " not in value:
        return value
    return hashlib.blake2b(value.encode(), digest_size=16).hexdigest()


class FixedBackend:
    """Fixed windows through django-ratelimit's ``get_usage`` (``RATELIMIT_USE_CACHE``).

    Rules are counted in order and counting stops at the first rule that is over its
    limit, so a blocked request does not use up the later rules' quotas.
    """

    name = "fixed"

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def hit(self, request: HttpRequest, hits: Sequence[Hit]) -> list[Usage]:
        usages = []
        for item in hits:
            value = _key_part(item.key)
            try:
                usage = get_usage(
                    request,
                    group=f"prodkit:{item.rule}",
                    key=lambda _group, _request, value=value: value,
                    rate=(item.limit, item.period),
                    method=ALL,
                    increment=True,
                )
            except Exception as error:  # Any store error, e.g. redis.ConnectionError.
                raise BackendError(f"cache {self.alias!r}: {error}") from error
            if usage is None:
                if not getattr(settings, "RATELIMIT_ENABLE", True):
                    continue
                # RATELIMIT_FAIL_OPEN: get_usage's answer when the cache failed quietly
                # (IGNORE_EXCEPTIONS). FAIL and the breaker decide, not django-ratelimit.
                raise BackendError(f"cache {self.alias!r} did not count the request")
            if usage["limit"] == 0 and usage["time_left"] == -1:
                # get_usage's answer when the cache swallowed an error (IGNORE_EXCEPTIONS).
                raise BackendError(f"cache {self.alias!r} did not count the request")
            limited = bool(usage["should_limit"])
            reset = max(int(usage["time_left"]), 0)
            usages.append(
                Usage(
                    rule=item.rule,
                    limit=item.limit,
                    period=item.period,
                    remaining=max(item.limit - int(usage["count"]), 0),
                    reset=reset if reset else item.period,
                    limited=limited,
                )
            )
            if limited:
                break
        return usages


# KEYS: one sorted set per rule. ARGV[1]: a per-request token; then, per key, the limit and
# the window in microseconds. The server's clock is the only clock, so instances with
# skewed clocks still share one window. Nothing is written unless every rule admits the
# request, so a blocked request uses up no quota. Returns {admitted, count_1, reset_1, ...}
# with reset in microseconds: until a slot frees when the key is at its limit, else the
# window.
SLIDING_SCRIPT = prodkit_redis.ServerScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local member = t[1] .. '.' .. t[2] .. ':' .. ARGV[1]
local n = #KEYS
local counts = {}
local admitted = 1
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  counts[i] = count
  if count >= limit then
    admitted = 0
  end
end
local result = {admitted}
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local count = counts[i]
  if admitted == 1 then
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000) + 1)
    count = count + 1
  end
  -- Below the limit the quota is whole again one window after this request at the
  -- latest; at the limit, a slot frees when the entry that filled it leaves the window.
  local reset = window
  if count >= limit and count > 0 then
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    reset = tonumber(oldest[2]) + window - now
  end
  result[2 * i] = count
  result[2 * i + 1] = reset
end
return result
"""
)


# What makes each admitted request's log entry unique next to the server's clock: this
# process (random, so hosts with equal process ids differ; new in each forked worker) and
# a per-process counter.
_PROCESS_TOKEN = secrets.token_hex(6)
_requests = itertools.count()


def _new_process() -> None:
    global _PROCESS_TOKEN
    _PROCESS_TOKEN = secrets.token_hex(6)


os.register_at_fork(after_in_child=_new_process)


class SlidingBackend:
    """A sliding log per key in Redis; all rules of a request in one ``EVALSHA``.

    Memory per key is one sorted-set entry per admitted request in the last window, so at
    most ``limit`` entries.
    """

    name = "sliding"

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._client: Redis | None = None
        self._key_template: tuple[str, str] | None = None

    def hit(self, request: HttpRequest, hits: Sequence[Hit]) -> list[Usage]:
        if not hits:
            return []
        args: list[object] = [f"{_PROCESS_TOKEN}.{next(_requests)}"]
        for item in hits:
            args += [item.limit, item.period * 1_000_000]
        try:
            client, (head, tail) = self._connect()
            keys = [
                f"{head}prodkit:rl:{item.rule}:{_key_part(item.key)}{tail}"
                for item in hits
            ]
            reply = SLIDING_SCRIPT(client, keys, args)
        except Exception as error:  # redis.RedisError, OSError, pool exhaustion...
            raise BackendError(f"Redis behind cache {self.alias!r}: {error}") from error
        admitted = reply[0] == 1
        usages = []
        for index, item in enumerate(hits):
            count = int(reply[2 * index + 1])
            reset = max(math.ceil(int(reply[2 * index + 2]) / 1_000_000), 1)
            over = count >= item.limit
            usages.append(
                Usage(
                    rule=item.rule,
                    limit=item.limit,
                    period=item.period,
                    remaining=max(item.limit - count, 0),
                    reset=reset,
                    limited=not admitted and over,
                )
            )
        return usages

    def _connect(self) -> tuple[Redis, tuple[str, str]]:
        """The redis-py client and the cache's key shape, looked up once.

        Holding the client (thread-safe, on the cache's shared pool) means a request never
        touches ``caches[alias]``, so Django has no cache of this thread to close when
        the request ends.
        """
        if self._client is None or self._key_template is None:
            cache = caches[self.alias]
            marker = "\x00"
            made = str(cache.make_key(marker))
            if made.count(marker) != 1:
                raise BackendError(
                    f"cache {self.alias!r}: its KEY_FUNCTION must keep the key verbatim"
                )
            head, _marker, tail = made.partition(marker)
            self._key_template = (head, tail)
            self._client = prodkit_redis.get_client(self.alias)
        return self._client, self._key_template
