"""The writer: coalesces occurrences in memory and stores them from its own thread.

Capture hands every occurrence to :data:`writer` and returns at once. The writer thread,
started on the first occurrence in each process, writes what is pending, then waits
``PRODKIT["ERRORS"]["FLUSH_SECONDS"]`` before writing again; occurrences of one group
that arrive meanwhile are merged into one pending entry. So a new group is stored within
milliseconds, and a storm of one error costs one write per group per interval, however
many occurrences it has.

The thread uses its own database connection, so a write never happens inside a user's
transaction, broken or not, and a slow database never slows a request. When the database
fails, the writer logs the outage once, logs each group it could not store as one line
(so nothing is lost), and stops trying for the circuit breaker's period.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import logging
import os

from django.db import (
    DataError,
    IntegrityError,
    router,
    transaction,
)
from django.db.models import F

from django_prodkit import conf
from django_prodkit.batch_writer import BatchWriter, close_connection
from django_prodkit.breaker import get_breaker
from django_prodkit.errors.capture import SEVERITIES, Occurrence
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.errors.signals import group_recorded

__all__ = ["Pending", "Writer", "writer"]

logger = logging.getLogger("django_prodkit.errors")


@dataclasses.dataclass(slots=True)
class Pending:
    """The occurrences of one group not written yet, merged."""

    latest: Occurrence | None
    count: int
    first_at: datetime.datetime | None
    severity: str
    sentry_event_id: str = ""

    def merge(self, occurrence: Occurrence) -> None:
        self.latest = occurrence
        self.count += 1
        if self.first_at is None:
            self.first_at = occurrence.at
        if SEVERITIES[occurrence.severity] > SEVERITIES.get(self.severity, -1):
            self.severity = occurrence.severity
        if occurrence.sentry_event_id:
            self.sentry_event_id = occurrence.sentry_event_id


class Writer(BatchWriter[str, Pending]):
    thread_name = "prodkit-errors"
    logger = logger

    # Called by capture, on the request's thread.

    def add(self, occurrence: Occurrence) -> None:
        options = conf.get().errors
        with self._lock:
            pending = self._pending.get(occurrence.fingerprint)
            if pending is None:
                if len(self._pending) >= options.max_pending:
                    self.dropped += 1
                    overflow = True
                else:
                    overflow = False
                    pending = self._pending[occurrence.fingerprint] = Pending(
                        None, 0, None, occurrence.severity
                    )
            else:
                overflow = False
            if pending is not None:
                pending.merge(occurrence)
            self._start()
        if overflow:
            single = Pending(occurrence, 1, occurrence.at, occurrence.severity)
            _log_unstored(occurrence.fingerprint, single, "too many groups pending")
        self._wake.set()

    def link(self, fingerprint: str, event_id: str) -> None:
        with self._lock:
            pending = self._pending.get(fingerprint)
            if pending is None:
                pending = self._pending[fingerprint] = Pending(None, 0, None, "")
            pending.sentry_event_id = event_id
            self._start()
        self._wake.set()

    # The writer thread.

    def _interval(self) -> float:
        return conf.get().errors.flush_seconds

    def _enter_thread(self) -> None:
        from django_prodkit.errors.capture import _state

        _state.active = True  # Nothing this thread logs is captured.

    def _write(self, batch: dict[str, Pending]) -> None:
        if not batch:
            return
        alias = conf.get().errors.database or router.db_for_write(ErrorGroup)
        breaker = get_breaker(f"database:{alias}")
        try:
            for key in list(batch):
                if not breaker.allow():
                    break
                try:
                    self._store(alias, key, batch[key])
                except (DataError, IntegrityError) as error:
                    # This group's data, not the database: log it and go on.
                    _log_unstored(key, batch[key], f"{type(error).__name__}: {error}")
                except Exception as error:  # The database, or the way to it, failed.
                    breaker.failure(error)
                    break
                else:
                    breaker.success()
                    self._outages.discard(alias)
                del batch[key]
        finally:
            close_connection(alias)
        if not batch:
            return
        if breaker.state == "closed":
            # A passing failure (a lock held by a long transaction, a dropped connection):
            # the groups wait for the next round, merged with what arrives meanwhile.
            self._put_back(batch)
            return
        self._log_outage_once(
            alias,
            "error groups cannot be stored in database %r (%s); they are logged "
            "here instead until it is back",
        )
        for key, pending in batch.items():
            _log_unstored(key, pending, "database unavailable")

    def _put_back(self, batch: dict[str, Pending]) -> None:
        with self._lock:
            for key, older in batch.items():
                newer = self._pending.get(key)
                if newer is None:
                    self._pending[key] = older
                    continue
                newer.count += older.count
                newer.first_at = older.first_at or newer.first_at
                newer.latest = newer.latest or older.latest
                newer.sentry_event_id = newer.sentry_event_id or older.sentry_event_id
                if SEVERITIES.get(older.severity, -1) > SEVERITIES.get(
                    newer.severity, -1
                ):
                    newer.severity = older.severity
        self._wake.set()

    def _store(self, alias: str, key: str, pending: Pending) -> None:
        for attempt in (1, 2):
            try:
                with transaction.atomic(using=alias):
                    result = _upsert(alias, key, pending)
                break
            except IntegrityError:
                if attempt == 2:
                    raise  # Two inserts raced and the update still found nothing.
        if result is None:
            return
        self.writes += 1
        group, new, regressed = result
        if pending.count:
            responses = group_recorded.send_robust(
                sender=ErrorGroup,
                group=group,
                new=new,
                regressed=regressed,
                occurrences=pending.count,
            )
            for receiver, response in responses:
                if isinstance(response, Exception):
                    logger.warning(
                        "a group_recorded receiver failed: %r: %s", receiver, response
                    )


def _upsert(
    alias: str, key: str, pending: Pending
) -> tuple[ErrorGroup, bool, bool] | None:
    rows = ErrorGroup.objects.using(alias)
    # No ORDER BY (the model's ordering): the fingerprint is unique.
    found = list(rows.select_for_update().filter(fingerprint=key).order_by()[:1])
    group = found[0] if found else None
    latest = pending.latest
    if group is None:
        if latest is None:
            return None  # A Sentry link for a group that no longer exists.
        group = ErrorGroup(fingerprint=key, first_seen=pending.first_at or latest.at)
        _fill(group, pending, latest)
        group.count = pending.count
        group.save(using=alias, force_insert=True)
        return group, True, False
    regressed = False
    if latest is not None:
        _fill(group, pending, latest)
        if group.status == ErrorGroup.Status.RESOLVED:
            group.status = ErrorGroup.Status.UNRESOLVED
            group.regressed_at = latest.at
            group.times_regressed += 1
            regressed = True
    elif pending.sentry_event_id:
        group.sentry_event_id = pending.sentry_event_id
    if pending.count:
        # Added in SQL: where the row lock is a no-op (SQLite), two processes writing at
        # once still lose no increment.
        group.count = F("count") + pending.count
    group.save(using=alias)
    if pending.count:
        group.refresh_from_db(using=alias, fields=["count"])
    return group, False, regressed


def _fill(group: ErrorGroup, pending: Pending, latest: Occurrence) -> None:
    group.exception_type = latest.exception_type[:255]
    group.message = latest.message
    group.culprit = latest.culprit[:255]
    group.logger = latest.logger[:200]
    group.source = latest.source
    if (
        SEVERITIES.get(pending.severity, 0) > SEVERITIES.get(group.severity, -1)
        or not group.pk
    ):
        group.severity = pending.severity
    group.last_seen = latest.at
    group.traceback = latest.traceback
    group.context = latest.context
    group.request_method = latest.summary.get("request_method", "")
    group.request_path = latest.summary.get("request_path", "")
    group.request_route = latest.summary.get("request_route", "")
    group.user_id = latest.summary.get("user_id", "")
    group.request_id = latest.summary.get("request_id", "")[:128]
    if pending.sentry_event_id:
        group.sentry_event_id = pending.sentry_event_id


def _log_unstored(key: str, pending: Pending, reason: str) -> None:
    latest = pending.latest
    if latest is None:
        return
    logger.error(
        "error group %s not stored (%s): %s %s: %s (%d occurrence(s), last request %s)\n%s",
        key[:12],
        reason,
        latest.severity,
        latest.exception_type or "message",
        latest.message,
        pending.count,
        latest.summary.get("request_id") or "-",
        latest.traceback,
        extra={"fingerprint": key, "occurrences": pending.count},
    )


writer = Writer()
os.register_at_fork(after_in_child=writer._reset)
atexit.register(writer.flush, 2.0)
