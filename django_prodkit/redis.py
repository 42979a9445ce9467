"""The Redis side of the kit: the raw client behind a django-redis cache alias.

Capabilities that need more than Django's cache API (one pipelined round trip, ``INFO``,
server-side scripts) reach Redis through the cache alias the project already configured,
so there is one connection pool and one place for the URL and its credentials.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches

if TYPE_CHECKING:
    from redis import Redis

DJANGO_REDIS_BACKENDS = ("django_redis.cache.RedisCache",)


def is_django_redis(alias: str) -> bool:
    """Whether the cache ``alias`` is served by django-redis."""
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    return backend in DJANGO_REDIS_BACKENDS


def django_redis_aliases() -> list[str]:
    return [alias for alias in settings.CACHES if is_django_redis(alias)]


def get_client(alias: str, *, write: bool = True) -> Redis:
    """The redis-py client behind a django-redis cache alias (its pool is shared)."""
    if not is_django_redis(alias):
        raise ValueError(f"cache {alias!r} is not a django-redis cache")
    client: Redis = caches[alias].client.get_client(write=write)  # type: ignore[attr-defined]
    return client


class ServerScript:
    """A Lua script run by its hash (``EVALSHA``), loaded on the first ``NOSCRIPT``.

    One round trip per call in the steady state; the script body crosses the network only
    after a server restart or ``SCRIPT FLUSH``.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(
        self, client: Redis, keys: Sequence[str], args: Sequence[object]
    ) -> Any:
        from redis.exceptions import NoScriptError

        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[arg-type]
        except NoScriptError:
            return client.eval(self.source, len(keys), *keys, *args)  # type: ignore[arg-type]
