"""The gate's connectivity section: is every database and cache answering in time?

Each alias is probed in a daemon thread of its own, and the gate waits for all of them
together for at most ``GATE.TIMEOUT`` seconds: a server that accepts the connection and
then says nothing, or a driver whose own connect timeout is longer, cannot hold the gate.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import caches
from django.db import connections

from django_prodkit.batch_writer import close_connection
from django_prodkit.checks.gate.results import Result
from django_prodkit.scrub import scrub_text

DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
TAGS = ("connectivity",)


@dataclasses.dataclass(slots=True)
class Probe:
    """The outcome of one probe: ``latency`` in seconds, or why there is none."""

    kind: str  # "database" or "cache"
    alias: str
    latency: float | None = None
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.latency is not None

    @property
    def setting(self) -> str:
        return f"{'DATABASES' if self.kind == 'database' else 'CACHES'}[{self.alias!r}]"

    def result(self, timeout: float) -> Result:
        """I105 with the latency when it answered, E103 when it did not."""
        if self.latency is not None:
            return Result(
                id="prodkit.I105",
                level="info",
                message=f"{self.kind.capitalize()} {self.alias!r} answered in "
                f"{self.latency * 1000:.1f} ms.",
                obj=self.setting,
                tags=TAGS,
            )
        return Result(
            id="prodkit.E103",
            level="error",
            message=f"{self.kind.capitalize()} {self.alias!r} is unreachable: "
            f"{self.error}.",
            hint=f"Check that the server is up and that {self.setting} names it "
            f"correctly; the gate waits {timeout:g} s (GATE.TIMEOUT) for an answer.",
            obj=self.setting,
            tags=TAGS,
        )


def probe(
    databases: Iterable[str], cache_aliases: Iterable[str], timeout: float
) -> list[Probe]:
    """Probe the databases and caches at once; return within about ``timeout`` seconds."""
    probes = [Probe("database", alias) for alias in databases]
    probes += [
        Probe("cache", alias)
        for alias in cache_aliases
        if settings.CACHES[alias].get("BACKEND") != DUMMY_CACHE
    ]
    threads = []
    for item in probes:
        work = _ping_database if item.kind == "database" else _ping_cache
        thread = threading.Thread(
            target=_run,
            args=(item, work),
            name=f"prodkit-gate-{item.kind}-{item.alias}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for item, thread in zip(probes, threads, strict=True):
        if thread.is_alive():
            item.latency = None
            item.error = f"no answer within {timeout:g} s"
    return probes


def _run(item: Probe, work: Callable[[str], float]) -> None:
    try:
        latency = work(item.alias)
    except Exception as exc:
        item.error = _describe(exc)
    else:
        item.latency = latency


def _ping_database(alias: str) -> float:
    # connections[alias] is this thread's own connection, closed before the thread ends
    # (for real even on an in-memory SQLite database, whose close() is a no-op).
    connection = connections[alias]
    start = time.perf_counter()
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return time.perf_counter() - start
    finally:
        close_connection(alias)


def _ping_cache(alias: str) -> float:
    # A write read back: a cache with IGNORE_EXCEPTIONS answers a get() with None
    # while its server is down, so a get() alone would pass.
    cache = caches[alias]
    key = f"prodkit:gate:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    start = time.perf_counter()
    try:
        cache.set(key, value, 30)
        stored = cache.get(key)
        cache.delete(key)
    finally:
        cache.close()
    if stored != value:
        raise ConnectionError("it did not return the value just written")
    return time.perf_counter() - start


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return scrub_text(text.rstrip("."))
