"""The writer: stores dead letters from its own thread, with its own connection.

The receivers hand each failure to :data:`writer` and return at once, so the task's
worker never waits for the database and a dead letter is never written inside the task's
own transaction (which may be broken, or rolled back after the signal). The thread,
started on the first failure in each process, writes what is pending, then waits
``PRODKIT["JOBS"]["FLUSH_SECONDS"]`` before writing again.

When the database fails, the shared circuit breaker opens after a few errors, so a dead
database costs no connect timeout per failure; the writer logs the outage once and logs
each dead letter it could not store as one line on the ``django_prodkit.jobs`` logger,
with every field in the record's ``extra`` (``dead_letter``), so nothing is lost.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import logging
import os
from typing import Any

from django.db import DataError, IntegrityError, router, transaction

from django_prodkit import conf
from django_prodkit.batch_writer import BatchWriter, close_connection
from django_prodkit.breaker import get_breaker
from django_prodkit.jobs.models import DeadLetter

__all__ = ["Failure", "Writer", "writer"]

logger = logging.getLogger("django_prodkit.jobs")


@dataclasses.dataclass(slots=True)
class Failure:
    """One task's last failure, scrubbed, with the fields of its dead letter."""

    task_name: str
    task_id: str
    outcome: str
    queue: str
    routing_key: str
    exchange: str
    args: list[Any] | None
    kwargs: dict[str, Any] | None
    arguments_repr: str
    retryable: bool
    not_retryable_reason: str
    exception_type: str
    message: str
    traceback: str
    attempts: int
    first_failed_at: datetime.datetime
    last_failed_at: datetime.datetime
    hostname: str
    parent_id: str
    root_id: str
    request_id: str

    def fields(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in _FIELDS}

    def document(self) -> dict[str, Any]:
        """The fields as JSON values, for a log line."""
        document = self.fields()
        document["first_failed_at"] = self.first_failed_at.isoformat()
        document["last_failed_at"] = self.last_failed_at.isoformat()
        return document


_FIELDS = dataclasses.fields(Failure)
# What a later failure of the same task id replaces; the first failure time stays.
_UPDATED = tuple(
    f.name for f in _FIELDS if f.name not in ("task_id", "first_failed_at")
)


class Writer(BatchWriter[str, Failure]):
    thread_name = "prodkit-jobs"
    logger = logger

    def _reset(self) -> None:
        super()._reset()
        self.dropped = 0
        self.writes = 0

    def reset_counters(self) -> None:
        """Forget the counters and outages seen so far (tests, benchmarks)."""
        self._outages.clear()
        self.dropped = self.writes = 0

    # Called by the receivers, on the task's thread.

    def add(self, failure: Failure) -> None:
        with self._lock:
            older = self._pending.get(failure.task_id)
            if older is None and len(self._pending) >= conf.get().jobs.max_pending:
                self.dropped += 1
                overflow = True
            else:
                overflow = False
                if older is not None:
                    failure.first_failed_at = min(
                        older.first_failed_at, failure.first_failed_at
                    )
                self._pending[failure.task_id] = failure
                self._start()
        if overflow:
            _log_unstored(failure, "too many dead letters pending")
            return
        self._wake.set()

    def log_pending(self, reason: str) -> None:
        """Log every dead letter still pending, and forget it (a process stopping)."""
        with self._lock:
            batch, self._pending = self._pending, {}
        for failure in batch.values():
            _log_unstored(failure, reason)

    # The writer thread.

    def _interval(self) -> float:
        return conf.get().jobs.flush_seconds

    def _write(self, batch: dict[str, Failure]) -> None:
        if not batch:
            return
        alias = conf.get().jobs.database or router.db_for_write(DeadLetter)
        breaker = get_breaker(f"database:{alias}")
        try:
            for key in list(batch):
                if not breaker.allow():
                    break
                try:
                    self._store(alias, batch[key])
                except (DataError, IntegrityError) as error:
                    # This dead letter's data, not the database: log it and go on.
                    _log_unstored(batch[key], f"{type(error).__name__}: {error}")
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
            # A passing failure (a lock, a dropped connection): the dead letters wait
            # for the next round; a newer failure of the same task replaces its entry.
            with self._lock:
                for key, failure in batch.items():
                    self._pending.setdefault(key, failure)
            self._wake.set()
            return
        self._log_outage_once(
            alias,
            "dead letters cannot be stored in database %r (%s); they are logged here "
            "instead until it is back",
        )
        for failure in batch.values():
            _log_unstored(failure, "database unavailable")

    def _store(self, alias: str, failure: Failure) -> None:
        fields = failure.fields()
        rows = DeadLetter.objects.using(alias)
        for attempt in (1, 2):
            try:
                with transaction.atomic(using=alias):
                    # One row per task id: a redelivered message that fails again
                    # updates its dead letter.
                    updated = rows.filter(task_id=failure.task_id).update(
                        **{name: fields[name] for name in _UPDATED}
                    )
                    if not updated:
                        rows.create(**fields)
                break
            except IntegrityError:
                if attempt == 2:
                    raise  # Two inserts raced and the update still found nothing.
        self.writes += 1


def _log_unstored(failure: Failure, reason: str) -> None:
    logger.error(
        "dead letter not stored (%s): %s[%s] %s: %s (%d attempt(s), request %s)",
        reason,
        failure.task_name,
        failure.task_id,
        failure.exception_type,
        failure.message.splitlines()[0] if failure.message else "",
        failure.attempts,
        failure.request_id or "-",
        extra={"dead_letter": failure.document()},
    )


writer = Writer()
os.register_at_fork(after_in_child=writer._reset)
atexit.register(writer.flush, 2.0)
