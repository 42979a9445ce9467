"""The receivers that ``ready()`` connects to Celery's signals (only when Celery imports).

Which signal says what, in Celery 5:

* ``task_failure`` is sent once a task has failed for good: its retries are exhausted or
  it has no retry policy. A failure Celery will retry (``self.retry()``,
  ``autoretry_for``) sends ``task_retry`` instead, so a dead letter is never recorded
  for it.
* A task that raises ``Reject(requeue=False)`` has its message dropped (or sent to the
  broker's own dead-letter exchange). Every Celery 5 release shows it in ``task_postrun``,
  with ``state="REJECTED"`` and the ``Reject`` as ``retval``, on the thread that ran the
  task: that is where it is recorded. Celery 5.7 also sends ``task_failure`` for it, but
  from the worker's main process, where the task's request is gone; that one is skipped.
  (``task_rejected`` is something else: a message the worker could not decode or knew no
  task for.)
* ``before_task_publish`` runs in the process that sends a message, the web process or a
  worker sending a retry; ``task_prerun`` and ``task_postrun`` run around every task in
  the worker, on the thread that runs it.

No receiver may raise: an exception in ``task_failure`` would be logged by Celery in the
middle of its own failure handling, and one in ``before_task_publish`` would stop the
message from being sent. Each catches everything and logs it once a minute.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
import traceback as tracebacks
from contextvars import Token
from typing import Any

from celery.exceptions import Reject
from django.utils import timezone

from django_prodkit import conf
from django_prodkit.jobs import REQUEST_ID_HEADER
from django_prodkit.jobs.failures import (
    MESSAGE_LENGTH,
    TRACEBACK_LENGTH,
    arguments,
    exception_text,
    short,
    tail,
    type_name,
)
from django_prodkit.jobs.models import REQUEST_ID_LENGTH, TASK_ID_LENGTH, DeadLetter
from django_prodkit.jobs.writer import Failure, writer
from django_prodkit.logs.context import current_request_id, is_valid_request_id
from django_prodkit.scrub import scrub_text

__all__ = [
    "FIRST_FAILURE_HEADER",
    "connect",
    "task_failed",
    "task_finished",
    "task_publishing",
    "task_starting",
]

logger = logging.getLogger("django_prodkit.jobs")

# The header that carries a task's first failure time into its retries' messages.
FIRST_FAILURE_HEADER = "prodkit_first_failed_at"


class _Running:
    """What the receivers remember about one task while the worker runs it."""

    __slots__ = ("first_failed_at", "token")

    def __init__(self, token: Token[str | None] | None, first_failed_at: str) -> None:
        self.token = token
        self.first_failed_at = first_failed_at


# Task id -> its state, from task_prerun to task_postrun. A dict rather than a
# thread-local: a retry is published by the task's own thread, but keyed by task id the
# lookup needs no assumption about threads or greenlets.
_running: dict[str, _Running] = {}


def connect(signals: Any) -> None:
    """Connect the receivers to ``celery.signals`` (passed in: this module needs Celery)."""
    signals.before_task_publish.connect(
        task_publishing, dispatch_uid="prodkit.jobs.publish", weak=False
    )
    signals.task_prerun.connect(
        task_starting, dispatch_uid="prodkit.jobs.prerun", weak=False
    )
    signals.task_postrun.connect(
        task_finished, dispatch_uid="prodkit.jobs.postrun", weak=False
    )
    signals.task_failure.connect(
        task_failed, dispatch_uid="prodkit.jobs.failure", weak=False
    )
    signals.worker_process_shutdown.connect(
        worker_stopping, dispatch_uid="prodkit.jobs.flush", weak=False
    )


def task_publishing(
    sender: Any = None, headers: dict[str, Any] | None = None, **extra: Any
) -> None:
    """Receiver of ``before_task_publish``: add the request ID (and, for a retry, the
    first failure time) to the message's headers."""
    try:
        if headers is None:
            return
        request_id = current_request_id.get()
        if request_id and REQUEST_ID_HEADER not in headers:
            headers[REQUEST_ID_HEADER] = request_id
        # A retry is the running task publishing its own id again.
        running = _running.get(str(headers.get("id") or ""))
        if running is not None and headers.get("retries"):
            headers[FIRST_FAILURE_HEADER] = (
                running.first_failed_at or timezone.now().isoformat()
            )
    except Exception as error:
        _internal_failure(error)


def task_starting(
    sender: Any = None, task_id: str | None = None, task: Any = None, **extra: Any
) -> None:
    """Receiver of ``task_prerun``: the task's log records carry its request's ID."""
    try:
        request = getattr(task, "request", None)
        request_id = _header(request, REQUEST_ID_HEADER)
        token = None
        if request_id and is_valid_request_id(request_id, REQUEST_ID_LENGTH):
            token = current_request_id.set(request_id)
        first = _header(request, FIRST_FAILURE_HEADER) or ""
        _running[str(task_id)] = _Running(token, first)
    except Exception as error:
        _internal_failure(error)


def task_finished(
    sender: Any = None,
    task_id: str | None = None,
    retval: Any = None,
    state: str | None = None,
    **extra: Any,
) -> None:
    """Receiver of ``task_postrun``: record a rejection without requeue, then restore
    the request ID the thread had before the task."""
    try:
        if (
            state == "REJECTED"
            and isinstance(retval, Reject)
            and not retval.requeue
            and conf.get().jobs.enabled
        ):
            reason = retval.reason
            exception = reason if isinstance(reason, BaseException) else retval
            _record(
                sender,
                str(task_id or ""),
                exception,
                DeadLetter.Outcome.REJECTED,
                extra.get("args"),
                extra.get("kwargs"),
                rejection=retval,
            )
    except Exception as error:
        _internal_failure(error)
    finally:
        running = _running.pop(str(task_id), None)
        if running is not None and running.token is not None:
            try:
                current_request_id.reset(running.token)
            except ValueError:  # Another context: forget the ID rather than leak it.
                current_request_id.set(None)


def task_failed(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    **extra: Any,
) -> None:
    """Receiver of ``task_failure``: the task failed for good; record its dead letter."""
    try:
        # Celery 5.7 also sends task_failure for Reject(requeue=False), from the worker's
        # main process where the task's request is gone: task_finished records it.
        if exception is None or isinstance(exception, Reject):
            return
        if not conf.get().jobs.enabled:
            return
        _record(
            sender,
            str(task_id or ""),
            exception,
            DeadLetter.Outcome.FAILED,
            extra.get("args"),
            extra.get("kwargs"),
        )
    except Exception as error:
        _internal_failure(error)


def worker_stopping(**kwargs: Any) -> None:
    """Receiver of ``worker_process_shutdown``: a prefork child leaves through
    ``os._exit()``, which skips the writer's ``atexit`` flush."""
    try:
        if not writer.flush(2.0):
            writer.log_pending("the worker process is stopping")
    except Exception as error:
        _internal_failure(error)


def _record(
    task: Any,
    task_id: str,
    exception: BaseException,
    outcome: str,
    args: Any,
    kwargs: Any,
    rejection: Reject | None = None,
) -> None:
    request = getattr(task, "request", None)
    now = timezone.now()
    # Reject(ValueError(...)) names an exception that was never raised: the Reject's
    # own traceback shows where the task gave up.
    traced = exception
    if exception.__traceback__ is None and isinstance(rejection, BaseException):
        traced = rejection
    if args is None and kwargs is None:
        args, kwargs = getattr(request, "args", None), getattr(request, "kwargs", None)
    args, kwargs, arguments_repr, reason = arguments(args, kwargs)
    delivery = getattr(request, "delivery_info", None) or {}
    exchange = str(delivery.get("exchange") or "")
    routing_key = str(delivery.get("routing_key") or "")
    retries = getattr(request, "retries", None) or 0
    request_id = _header(request, REQUEST_ID_HEADER) or current_request_id.get() or ""
    writer.add(
        Failure(
            task_name=str(getattr(task, "name", "") or "")[:255],
            task_id=task_id[:TASK_ID_LENGTH],
            outcome=outcome,
            queue=_queue(task, delivery, exchange, routing_key)[:255],
            routing_key=routing_key[:255],
            exchange=exchange[:255],
            args=args,
            kwargs=kwargs,
            arguments_repr=arguments_repr,
            retryable=not reason,
            not_retryable_reason=reason[:255],
            exception_type=type_name(type(exception))[:255],
            message=short(scrub_text(exception_text(exception)), MESSAGE_LENGTH),
            traceback=tail(
                scrub_text("".join(tracebacks.format_exception(traced))),
                TRACEBACK_LENGTH,
            ),
            attempts=int(retries) + 1,
            first_failed_at=_parse_time(_header(request, FIRST_FAILURE_HEADER)) or now,
            last_failed_at=now,
            hostname=str(getattr(request, "hostname", "") or "")[:255],
            parent_id=str(getattr(request, "parent_id", "") or "")[:TASK_ID_LENGTH],
            root_id=str(getattr(request, "root_id", "") or "")[:TASK_ID_LENGTH],
            request_id=str(request_id)[:REQUEST_ID_LENGTH],
        )
    )


def _queue(task: Any, delivery: dict[str, Any], exchange: str, routing_key: str) -> str:
    """The queue the message came from: named by some transports, else the app's queue
    bound to the message's exchange and routing key."""
    if queue := delivery.get("queue"):
        return str(queue)
    try:
        queues = task.app.amqp.queues
    except Exception:
        return ""
    if routing_key in queues:
        return routing_key
    for name, queue in queues.items():
        bound = getattr(getattr(queue, "exchange", None), "name", None)
        if bound == exchange and getattr(queue, "routing_key", None) == routing_key:
            return str(name)
    return ""


def _header(request: Any, name: str) -> str | None:
    """A header of the task's message: an attribute of the request in protocol 2."""
    value = getattr(request, name, None)
    if value is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, dict):
            value = headers.get(name)
    return str(value) if value else None


def _parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


_failures: dict[str, float] = {}


def _internal_failure(error: Exception) -> None:
    """Log a receiver's own failure, once per kind of failure and minute."""
    kind = type(error).__name__
    now = time.monotonic()
    if now - _failures.get(kind, -60.0) < 60.0:
        return
    _failures[kind] = now
    with contextlib.suppress(Exception):  # Logging itself is broken.
        logger.warning(
            "dead-letter recording failed: %s: %s", kind, error, exc_info=error
        )
