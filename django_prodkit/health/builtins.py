"""The built-in checks. Each only reads: no rows or files are written on a probe."""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import sys
import time
import uuid
from typing import Any

from django.core.cache import caches
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from django_prodkit import redis as prodkit_redis
from django_prodkit.exceptions import ServiceUnavailable, ServiceWarning
from django_prodkit.health.base import Check, Details

MB = 1024 * 1024


@dataclasses.dataclass(kw_only=True)
class DatabaseCheck(Check):
    """``SELECT 1`` on this thread's connection to ``alias``, reused across probes."""

    alias: str
    warn_ms: float = 200.0

    def run(self) -> Details:
        connection = connections[self.alias]
        reused = connection.connection is not None
        try:
            elapsed = _ping(connection)
        except DatabaseError as exc:
            if not reused:
                raise ServiceUnavailable(_error(exc)) from exc
            # The server may have dropped a connection kept from an earlier probe: one
            # more try on a new connection tells a stale connection from a dead server.
            connection.close()
            try:
                elapsed = _ping(connection)
            except DatabaseError as retry_exc:
                raise ServiceUnavailable(_error(retry_exc)) from retry_exc
        details = _database_details(connection)
        if elapsed * 1000 > self.warn_ms:
            raise ServiceWarning(
                f"round trip took {elapsed * 1000:.0f} ms (over {self.warn_ms:g} ms)",
                details=details,
            )
        return details


def _ping(connection: BaseDatabaseWrapper) -> float:
    connection.ensure_connection()
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return time.perf_counter() - start


def _database_details(connection: BaseDatabaseWrapper) -> dict[str, object]:
    details: dict[str, object] = {"vendor": connection.vendor}
    if connection.vendor == "postgresql":
        details["server_version"] = connection.pg_version  # type: ignore[attr-defined]
    pool = getattr(connection, "pool", None)
    if pool is not None:
        stats = pool.get_stats()
        details["pool"] = {
            key: stats.get(key, 0)
            for key in ("pool_size", "pool_available", "requests_waiting")
        }
    return details


@dataclasses.dataclass(kw_only=True)
class CacheCheck(Check):
    """Set, get and delete a fresh key; one pipelined round trip on django-redis."""

    alias: str

    def run(self) -> Details:
        key = f"prodkit:health:{uuid.uuid4().hex}"
        cache = caches[self.alias]
        try:
            if prodkit_redis.is_django_redis(self.alias):
                # The cache's own prefix and version: Redis ACLs may allow no other keys.
                raw_key = cache.make_key(key)
                client = prodkit_redis.get_client(self.alias)
                pipe = client.pipeline(transaction=False)
                pipe.set(raw_key, b"1", px=5000)
                pipe.get(raw_key)
                pipe.delete(raw_key)
                _, value, _ = pipe.execute()
                ok = value == b"1"
            else:
                cache.set(key, "1", 5)
                ok = cache.get(key) == "1"
                cache.delete(key)
        except Exception as exc:
            raise ServiceUnavailable(_error(exc)) from exc
        if not ok:
            raise ServiceUnavailable("the cache did not return the value just stored")
        return None


@dataclasses.dataclass(kw_only=True)
class RedisCheck(Check):
    """``INFO memory stats`` of a django-redis cache's server: memory use and evictions."""

    alias: str
    memory_warn_percent: int = 90
    warn_on_evictions: bool = True
    _evicted: int | None = dataclasses.field(default=None, repr=False)

    def run(self) -> Details:
        try:
            info = _info(self.alias)
        except Exception as exc:
            raise ServiceUnavailable(_error(exc)) from exc
        used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
        evicted = int(info.get("evicted_keys", 0))
        details: dict[str, object] = {
            "redis_version": info.get("redis_version"),
            "used_memory_mb": round(used / MB, 1),
            "maxmemory_mb": round(limit / MB, 1) if limit else None,
            "maxmemory_policy": info.get("maxmemory_policy"),
            "evicted_keys": evicted,
        }
        new_evictions = evicted - self._evicted if self._evicted is not None else 0
        self._evicted = evicted
        # Evictions first: they mean data is already being lost.
        if self.warn_on_evictions and new_evictions > 0:
            raise ServiceWarning(
                f"{new_evictions} keys evicted since the last check", details=details
            )
        if limit and used * 100 >= limit * self.memory_warn_percent:
            raise ServiceWarning(
                f"memory {used * 100 / limit:.0f}% of maxmemory "
                f"(warns at {self.memory_warn_percent}%)",
                details=details,
            )
        return details


def _info(alias: str) -> dict[str, Any]:
    from redis.exceptions import ResponseError

    client = prodkit_redis.get_client(alias)
    try:
        # Several sections in one INFO needs Redis 7; older servers get the full INFO.
        info: dict[str, Any] = client.info("server", "memory", "stats")
    except ResponseError:
        info = client.info()
    return info


@dataclasses.dataclass(kw_only=True)
class MigrationsCheck(Check):
    """Migrations on disk that ``alias`` has not applied."""

    alias: str

    def run(self) -> Details:
        from django.db.migrations.executor import MigrationExecutor

        try:
            executor = MigrationExecutor(connections[self.alias])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            raise ServiceUnavailable(_error(exc)) from exc
        unapplied = [
            f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards
        ]
        if unapplied:
            shown = ", ".join(unapplied[:10]) + (", ..." if len(unapplied) > 10 else "")
            raise ServiceUnavailable(
                f"{len(unapplied)} unapplied migration(s): {shown}",
                details={"unapplied": unapplied},
            )
        return None


@dataclasses.dataclass(kw_only=True)
class DiskCheck(Check):
    """Used space on the file system holding ``path``."""

    path: str
    warn_percent: int = 90
    fail_percent: int = 95

    def run(self) -> Details:
        try:
            usage = shutil.disk_usage(self.path)
        except OSError as exc:
            raise ServiceUnavailable(
                f"cannot read {self.path}: {exc.strerror}"
            ) from exc
        percent = usage.used * 100 / usage.total if usage.total else 0.0
        details = {
            "path": self.path,
            "used_percent": round(percent, 1),
            "free_mb": usage.free // MB,
            "total_mb": usage.total // MB,
        }
        message = f"{percent:.0f}% used on {self.path}"
        if percent >= self.fail_percent:
            raise ServiceUnavailable(message, details=details)
        if percent >= self.warn_percent:
            raise ServiceWarning(message, details=details)
        return details


@dataclasses.dataclass(kw_only=True)
class MemoryCheck(Check):
    """The resident memory of this process."""

    warn_mb: int | None = None
    fail_mb: int | None = None

    def run(self) -> Details:
        rss_mb = round(resident_memory() / MB, 1)
        details = {"rss_mb": rss_mb}
        message = f"this process uses {rss_mb:g} MB"
        if self.fail_mb is not None and rss_mb >= self.fail_mb:
            raise ServiceUnavailable(message, details=details)
        if self.warn_mb is not None and rss_mb >= self.warn_mb:
            raise ServiceWarning(message, details=details)
        return details


def resident_memory() -> int:
    """Current resident set size in bytes (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


@dataclasses.dataclass(kw_only=True)
class BrokerCheck(Check):
    """Open and close a connection to the Celery broker, bounded by the timeout."""

    url: str = dataclasses.field(repr=False)
    connect_timeout: float = 2.0

    def run(self) -> Details:
        from kombu.connection import Connection

        connection = Connection(self.url, connect_timeout=self.connect_timeout)
        try:
            # One attempt: kombu's own retries would sleep past the check's timeout.
            connection.ensure_connection(max_retries=0)
            return {"transport": connection.transport_cls}
        except Exception as exc:
            raise ServiceUnavailable(_error(exc)) from exc
        finally:
            connection.release()


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
