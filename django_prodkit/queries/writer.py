"""The writer: aggregates slow queries in memory and stores them from its own thread.

:func:`~django_prodkit.queries.slow.record_slow` hands each slow query to :data:`writer`
and returns. The thread, started on the first slow query in each process, adds what is
pending to the ``SlowQuery`` rows (counts and totals in SQL, so instances writing at once
lose nothing), then waits ``PRODKIT["QUERIES"]["FLUSH_SECONDS"]``. It has its own
database connections: a write never happens inside a user's transaction, and the SQL it
runs is never recorded. When the database fails it logs the outage once and keeps
serving; the slow queries were logged already. Once an hour it prunes old rows.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import DataError, IntegrityError, router, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from django_prodkit import conf
from django_prodkit.batch_writer import BatchWriter, close_connection
from django_prodkit.breaker import get_breaker
from django_prodkit.queries.explain import explain
from django_prodkit.queries.fingerprint import MAX_SQL_LENGTH
from django_prodkit.queries.models import REQUEST_ID_LENGTH, ROUTE_LENGTH, SlowQuery
from django_prodkit.queries.retention import prune
from django_prodkit.queries.slow import muted

__all__ = ["Pending", "Writer", "writer"]

logger = logging.getLogger("django_prodkit.queries")

Sample = tuple[str, Sequence[Any] | Mapping[str, Any] | None]
PRUNE_SECONDS = 3600.0


@dataclasses.dataclass(slots=True)
class Pending:
    """The slow executions of one fingerprint on one alias not written yet."""

    alias: str
    fingerprint: str
    sql: str
    first_at: datetime.datetime
    last_at: datetime.datetime
    count: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    route: str = ""
    request_id: str = ""
    # The raw SQL and parameters of the slowest execution, for EXPLAIN; dropped once used.
    sample: Sample | None = dataclasses.field(default=None, repr=False)


class Writer(BatchWriter[tuple[str, str], Pending]):
    thread_name = "prodkit-queries"
    logger = logger

    def _reset(self) -> None:
        super()._reset()
        # The slowest time stored per fingerprint, as far as this process knows: only a
        # sample slower than that is worth an EXPLAIN.
        self._maxima: dict[tuple[str, str], float] = {}
        self._overflowing = False
        self._pruned_at = -PRUNE_SECONDS
        self.plans = 0

    def reset_counters(self) -> None:
        """Forget the counters, maxima and outages seen so far (tests, benchmarks)."""
        super().reset_counters()
        with self._lock:
            self._maxima.clear()
            self._overflowing = False
            self.plans = 0

    def add(
        self,
        alias: str,
        fingerprint: str,
        sql: str,
        duration_ms: float,
        *,
        route: str = "",
        request_id: str = "",
        sample: Sample | None = None,
    ) -> None:
        now = timezone.now()
        key = (alias, fingerprint)
        limit = conf.get().queries.max_pending
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                if len(self._pending) >= limit:
                    self.dropped += 1
                    first_loss, self._overflowing = not self._overflowing, True
                    pending = None
                else:
                    first_loss = False
                    pending = self._pending[key] = Pending(
                        alias, fingerprint, sql[:MAX_SQL_LENGTH], now, now
                    )
            else:
                first_loss = False
            if pending is not None:
                pending.count += 1
                pending.total_ms += duration_ms
                pending.last_at = now
                pending.route = route
                pending.request_id = request_id
                if duration_ms > pending.max_ms:
                    pending.max_ms = duration_ms
                    slowest = duration_ms > self._maxima.get(key, 0.0)
                    pending.sample = sample if slowest else None
                self._start()
        if first_loss:
            logger.warning(
                "more than %d slow-query fingerprints are waiting to be stored; "
                "further ones are logged but not stored until the next write",
                limit,
            )
        if pending is not None:
            self._wake.set()

    # The writer thread.

    def _interval(self) -> float:
        return conf.get().queries.flush_seconds

    def _enter_thread(self) -> None:
        muted.set(True)  # This thread's own SQL is never a slow query of the site.

    def _round_done(self) -> None:
        self._overflowing = False

    def _write(self, batch: dict[tuple[str, str], Pending]) -> None:
        if not batch:
            return
        database = conf.get().queries.database or router.db_for_write(SlowQuery)
        breaker = get_breaker(f"database:{database}")
        used = {database}
        try:
            for key in list(batch):
                if not breaker.allow():
                    break
                pending = batch[key]
                try:
                    slowest = _store(database, pending)
                except (DataError, IntegrityError) as error:
                    logger.warning(
                        "slow query %s not stored: %s", pending.fingerprint, error
                    )
                except Exception as error:  # The database, or the way to it, failed.
                    breaker.failure(error)
                    break
                else:
                    breaker.success()
                    self._outages.discard(database)
                    self.writes += 1
                    self._remember(key, pending.max_ms)
                    if slowest and pending.sample is not None:
                        used.add(pending.alias)
                        self._explain(database, pending)
                pending.sample = None
                del batch[key]
            if batch:
                self._failed(database, breaker.state == "closed", batch)
            elif time.monotonic() - self._pruned_at >= PRUNE_SECONDS:
                self._prune(database)
        finally:
            for alias in used:
                close_connection(alias)

    def _prune(self, database: str) -> None:
        self._pruned_at = time.monotonic()
        try:
            prune(using=database)
        except Exception as error:
            logger.warning("pruning old slow queries failed: %s", error)

    def _remember(self, key: tuple[str, str], duration_ms: float) -> None:
        with self._lock:
            if len(self._maxima) >= 10 * conf.get().queries.max_pending:
                self._maxima.clear()
            self._maxima[key] = max(self._maxima.get(key, 0.0), duration_ms)

    def _explain(self, database: str, pending: Pending) -> None:
        assert pending.sample is not None
        sql, params = pending.sample
        pending.sample = None
        try:
            plan = explain(pending.alias, sql, params)
        except Exception as error:
            # Not the error's text: a database error can quote a parameter value.
            logger.info(
                "EXPLAIN of slow query %s failed (%s)",
                pending.fingerprint,
                type(error).__name__,
            )
            return
        try:
            _rows(database, pending).update(plan=plan, plan_at=timezone.now())
        except Exception as error:
            logger.warning(
                "the plan of slow query %s was not stored: %s",
                pending.fingerprint,
                error,
            )
            return
        self.plans += 1

    def _failed(
        self, database: str, passing: bool, batch: dict[tuple[str, str], Pending]
    ) -> None:
        for pending in batch.values():
            pending.sample = None  # Parameters never wait for a later round.
        if passing:
            # A lock or a dropped connection: the counts wait for the next round.
            with self._lock:
                for key, older in batch.items():
                    newer = self._pending.setdefault(key, older)
                    if newer is not older:
                        newer.count += older.count
                        newer.total_ms += older.total_ms
                        newer.max_ms = max(newer.max_ms, older.max_ms)
                        newer.first_at = min(newer.first_at, older.first_at)
            self._wake.set()
            return
        self._log_outage_once(
            database,
            "slow queries cannot be stored in database %r (%s); they are only "
            "logged until it is back",
        )
        self.dropped += sum(pending.count for pending in batch.values())


def _rows(database: str, pending: Pending) -> QuerySet[SlowQuery]:
    return SlowQuery.objects.using(database).filter(
        alias=pending.alias, fingerprint=pending.fingerprint
    )


def _store(database: str, pending: Pending) -> bool:
    """Add ``pending`` to its row; whether its slowest execution is the row's now."""
    rows = _rows(database, pending)
    with transaction.atomic(using=database):
        if _add(rows, pending):
            return bool(
                rows.filter(max_ms__lt=pending.max_ms).update(max_ms=pending.max_ms)
            )
        try:
            with transaction.atomic(using=database):
                SlowQuery.objects.using(database).create(
                    alias=pending.alias,
                    fingerprint=pending.fingerprint,
                    sql=pending.sql,
                    count=pending.count,
                    total_ms=pending.total_ms,
                    max_ms=pending.max_ms,
                    first_seen=pending.first_at,
                    last_seen=pending.last_at,
                    last_route=pending.route[:ROUTE_LENGTH],
                    last_request_id=pending.request_id[:REQUEST_ID_LENGTH],
                )
        except IntegrityError:  # Another process inserted it meanwhile.
            _add(rows, pending)
            return bool(
                rows.filter(max_ms__lt=pending.max_ms).update(max_ms=pending.max_ms)
            )
        return True


def _add(rows: QuerySet[SlowQuery], pending: Pending) -> int:
    return rows.update(
        count=F("count") + pending.count,
        total_ms=F("total_ms") + pending.total_ms,
        last_seen=pending.last_at,
        last_route=pending.route[:ROUTE_LENGTH],
        last_request_id=pending.request_id[:REQUEST_ID_LENGTH],
    )


writer = Writer()
os.register_at_fork(after_in_child=writer._reset)
atexit.register(writer.flush, 2.0)
