"""Capture: turn an exception or a log record into a scrubbed occurrence, cheaply.

Three sources feed it: Django's ``got_request_exception`` signal (unhandled exceptions in
requests), :class:`~django_prodkit.errors.ErrorLogHandler` (error-level log records) and
Celery's ``task_failure`` signal (a task that failed for good: a failure Celery will retry
sends ``task_retry`` instead). Each occurrence goes to the writer, which coalesces and
stores it from its own thread, so capture never touches the database itself.

Capture never raises: a failure inside it is logged once (per kind of failure and
minute) on the ``django_prodkit.errors`` logger, whose records are never captured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import sys
import threading
import time
import traceback as tracebacks
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from django_prodkit import conf, rollup
from django_prodkit.errors.context import (
    frame_locals,
    mask,
    request_context,
    request_secrets,
    request_summary,
    short,
)
from django_prodkit.errors.filters import is_ignored, is_ignored_record
from django_prodkit.errors.fingerprint import culprit, fingerprint, normalise_message
from django_prodkit.scrub import scrub_text

__all__ = [
    "Occurrence",
    "capture_exception",
    "capture_message",
    "capture_record",
    "link_sentry_event",
    "record_exception",
]

logger = logging.getLogger("django_prodkit.errors")

SEVERITIES = {"warning": 0, "error": 1, "critical": 2}
MESSAGE_LENGTH = 2000
TRACEBACK_LENGTH = 65536
_FINGERPRINT = "_prodkit_fingerprint"
_SENTRY_EVENT = "_prodkit_sentry_event_id"

_state = threading.local()


@dataclasses.dataclass(slots=True)
class Occurrence:
    """One scrubbed occurrence, ready for the writer."""

    fingerprint: str
    exception_type: str
    message: str
    culprit: str
    logger: str
    source: str
    severity: str
    traceback: str
    context: dict[str, Any]
    summary: dict[str, str]
    at: datetime.datetime
    sentry_event_id: str = ""


def capture_exception(
    exception: BaseException | None = None,
    *,
    request: HttpRequest | None = None,
    severity: str = "error",
    context: dict[str, Any] | None = None,
) -> str | None:
    """Record ``exception`` (default: the one being handled); returns its fingerprint.

    Returns None when nothing was recorded: the capability is off, the exception is a
    client error or ignored, it was recorded already, or capture itself failed.
    """
    if exception is None:
        exception = sys.exc_info()[1]
        if exception is None:
            return None
    return record_exception(
        exception, request=request, severity=severity, source="code", context=context
    )


def record_exception(
    exception: BaseException,
    *,
    request: HttpRequest | None,
    severity: str,
    source: str,
    context: dict[str, Any] | None,
) -> str | None:
    """Record ``exception`` from ``source`` (what the signal receivers call)."""
    return _guarded(
        _from_exception,
        exception,
        request=request,
        severity=severity,
        source=source,
        logger_name="",
        template="",
        context=context,
    )


def capture_message(
    message: str,
    *,
    request: HttpRequest | None = None,
    severity: str = "error",
    context: dict[str, Any] | None = None,
) -> str | None:
    """Record a message with no exception, grouped by its text and caller."""
    frame = sys._getframe(1)
    location = f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_name}"
    return _guarded(
        _from_message,
        message,
        message,
        location,
        request=request,
        severity=severity,
        source="code",
        logger_name="",
        stack="",
        context=context,
    )


def capture_record(record: logging.LogRecord) -> str | None:
    """Record a log record (what :class:`ErrorLogHandler` calls)."""
    if record.name.startswith("django_prodkit.errors"):
        return None  # The capture's own voice: never captured, never recursing.
    return _guarded(_from_record, record)


def link_sentry_event(source: BaseException | logging.LogRecord, event_id: str) -> None:
    """Note that Sentry sent ``source`` (an exception or a log record) as ``event_id``.

    Works in either order: after capture, the id goes to the writer with the group's
    fingerprint; before it, the id waits on ``source`` for the capture to pick up.
    """
    try:
        found = getattr(source, _FINGERPRINT, None)
        if found:
            from django_prodkit.errors.writer import writer

            writer.link(found, event_id)
        else:
            setattr(source, _SENTRY_EVENT, event_id)
    except Exception:  # An exception type without attributes: nothing to link.
        pass


def _guarded(function: Any, *args: Any, **kwargs: Any) -> str | None:
    if getattr(_state, "active", False):
        return None  # Capture re-entered (a log call from inside it): never recurse.
    _state.active = True
    try:
        options = conf.get().errors
        if not options.enabled:
            return None
        result: str | None = function(*args, options=options, **kwargs)
        return result
    except Exception as error:
        _internal_failure(error)
        return None
    finally:
        _state.active = False


def _from_exception(
    exception: BaseException,
    *,
    options: conf.ErrorsSettings,
    request: HttpRequest | None,
    severity: str,
    source: str,
    logger_name: str,
    template: str,
    context: dict[str, Any] | None,
) -> str | None:
    if getattr(exception, _FINGERPRINT, None) or is_ignored(exception, options):
        return None
    exception_type = _type_name(type(exception))
    secrets = request_secrets(request)
    message = short(scrub_text(_text(exception), *secrets), MESSAGE_LENGTH)
    module, function, line = culprit(exception.__traceback__)
    where = f"{module}.{function}" if module else ""
    key = fingerprint(exception_type, where, normalise_message(message), template)
    details: dict[str, Any] = dict(context or {})
    if options.capture_locals:
        details["frames"] = frame_locals(exception.__traceback__, request)
    _submit(
        key,
        request,
        secrets,
        details,
        exception_type=exception_type,
        message=message,
        culprit=f"{where}:{line}" if where else "",
        logger=logger_name,
        source=source,
        severity=severity,
        traceback="".join(tracebacks.format_exception(exception)),
        sentry_event_id=str(getattr(exception, _SENTRY_EVENT, "") or ""),
    )
    with contextlib.suppress(Exception):  # A type that refuses attributes.
        setattr(exception, _FINGERPRINT, key)
    return key


def _from_message(
    message: str,
    template: str,
    location: str,
    *,
    options: conf.ErrorsSettings,
    request: HttpRequest | None,
    severity: str,
    source: str,
    logger_name: str,
    stack: str,
    context: dict[str, Any] | None,
) -> str | None:
    secrets = request_secrets(request)
    text = short(scrub_text(message, *secrets), MESSAGE_LENGTH)
    key = fingerprint(
        "", location, normalise_message(scrub_text(template)), logger_name
    )
    _submit(
        key,
        request,
        secrets,
        dict(context or {}),
        exception_type="",
        message=text,
        culprit=location,
        logger=logger_name,
        source=source,
        severity=severity,
        traceback=stack,
    )
    return key


def _from_record(
    record: logging.LogRecord, *, options: conf.ErrorsSettings
) -> str | None:
    if is_ignored_record(record, options):
        return None
    request = getattr(record, "request", None)
    if not isinstance(request, HttpRequest):
        request = None
    severity = _severity(record.levelno)
    template = str(record.msg)
    exception = record.exc_info[1] if record.exc_info else None
    if exception is not None:
        key = _from_exception(
            exception,
            options=options,
            request=request,
            severity=severity,
            source="log",
            logger_name=record.name,
            template=template,
            context=None,
        )
    else:
        key = _from_message(
            record.getMessage(),
            template,
            f"{record.name}.{record.funcName}",
            options=options,
            request=request,
            severity=severity,
            source="log",
            logger_name=record.name,
            stack=record.stack_info or "",
            context=None,
        )
    if key:
        setattr(record, _FINGERPRINT, key)
        event_id = getattr(record, _SENTRY_EVENT, None)
        if event_id:
            link_sentry_event(record, event_id)
    return key


def _submit(
    key: str,
    request: HttpRequest | None,
    secrets: tuple[str, ...],
    details: dict[str, Any],
    *,
    traceback: str,
    severity: str,
    **fields: str,
) -> None:
    """Finish an occurrence (request details, scrubbing) and hand it to the writer."""
    from django_prodkit.errors.writer import writer

    if request is not None:
        details["request"] = request_context(request)
    occurrence = Occurrence(
        fingerprint=key,
        severity=severity if severity in SEVERITIES else "error",
        traceback=_tail(scrub_text(traceback, *secrets), TRACEBACK_LENGTH),
        context=mask(details, secrets),  # type: ignore[arg-type]
        summary=request_summary(request),
        at=timezone.now(),
        **fields,
    )
    writer.add(occurrence)
    rollup.add("errors")
    rollup.add(f"errors.{occurrence.severity}")


def _severity(level: int) -> str:
    if level >= logging.CRITICAL:
        return "critical"
    if level >= logging.ERROR:
        return "error"
    return "warning"


def _type_name(cls: type[BaseException]) -> str:
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _text(exception: BaseException) -> str:
    try:
        return str(exception)
    except Exception:
        return f"<unprintable {type(exception).__name__}>"


def _tail(text: str, limit: int) -> str:
    text = text.replace("\x00", "\\x00")
    if len(text) <= limit:
        return text
    return "…(truncated)\n" + text[-(limit - 20) :]


_failures: dict[str, float] = {}


def _internal_failure(error: Exception) -> None:
    kind = type(error).__name__
    now = time.monotonic()
    if now - _failures.get(kind, -60.0) < 60.0:
        return
    _failures[kind] = now
    with contextlib.suppress(Exception):  # Logging itself is broken.
        logger.warning("error capture failed: %s: %s", kind, error, exc_info=error)
