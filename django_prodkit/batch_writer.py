"""A thread that stores, in rounds, what request threads leave pending in memory.

Used by error capture and the slow-query log. Callers merge what they have into
``_pending`` under ``_lock`` and wake the thread; the thread takes the whole batch, hands
it to ``_write()``, then waits the subclass's interval, so that a flood of one thing
costs one write per key per interval. The thread uses its own database connections: a
write never happens inside a caller's transaction, broken or not.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Generic, TypeVar

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from django_prodkit.breaker import get_breaker

__all__ = ["BatchWriter", "close_connection"]

K = TypeVar("K")
P = TypeVar("P")


class BatchWriter(Generic[K, P]):
    thread_name = "prodkit-writer"
    logger = logging.getLogger("django_prodkit")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """A fresh state: at start and in a forked child, whose copy has no thread."""
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._pending: dict[K, P] = {}
        self._wake = threading.Event()
        self._hurry = threading.Event()
        self._thread: threading.Thread | None = None
        self._cycles = 0
        self._writing = False
        self._outages: set[str] = set()
        # What the tests and benchmarks read: items given up on, and rows written.
        self.dropped = 0
        self.writes = 0

    def reset_counters(self) -> None:
        """Forget the counters and outages seen so far (tests, benchmarks)."""
        with self._lock:
            self._outages.clear()
            self.dropped = self.writes = 0

    # What a subclass provides.

    def _interval(self) -> float:
        raise NotImplementedError

    def _write(self, batch: dict[K, P]) -> None:
        raise NotImplementedError

    def _enter_thread(self) -> None:
        """Run once on the writer thread before its first round."""

    def _round_done(self) -> None:
        """Run with the lock held after each round."""

    # Called on the callers' threads.

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything pending now and wait for it.

        False when something is still pending afterwards: ``timeout`` ran out, or the
        database failed and what was pending waits for the next round.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._pending and not self._writing:
                return True
            target = self._cycles + (2 if self._writing else 1)
            self._hurry.set()
            self._wake.set()
            while self._cycles < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._done.wait(left)
            return not self._pending

    def _start(self) -> None:
        # Called with the lock held.
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(
            target=self._run, name=self.thread_name, daemon=True
        )
        self._thread.start()

    # The writer thread.

    def _run(self) -> None:
        self._enter_thread()
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, {}
                self._writing = True
                # A flush asked for before this round is served by it; only one asked
                # for during it cuts the pause after it short.
                self._hurry.clear()
            try:
                self._write(batch)
            except Exception:  # pragma: no cover - a bug in the writer itself
                self.logger.exception("%s failed", self.thread_name)
            finally:
                with self._lock:
                    self._writing = False
                    self._round_done()
                    self._cycles += 1
                    self._done.notify_all()
            # Pace the writes: what arrives now is merged and written after the pause.
            self._hurry.wait(self._interval())
            self._hurry.clear()

    def _log_outage_once(self, database: str, message: str) -> None:
        """Log ``message`` (formatted with the alias and the error) once per outage."""
        if database in self._outages:
            return
        self._outages.add(database)
        error = get_breaker(f"database:{database}").last_error
        self.logger.error(message, database, error)


def close_connection(alias: str) -> None:
    """Close the writer thread's connection to ``alias`` after a round.

    So the thread holds no connection while idle (no stale connection, nothing in the way
    of dropping a test database). An in-memory SQLite connection refuses close(); the base
    class closes it for real, which is safe because the database lives on in the shared
    cache of the other connections.
    """
    with contextlib.suppress(Exception):
        BaseDatabaseWrapper.close(connections[alias])
