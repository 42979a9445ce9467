"""Error capture: grouped, scrubbed, stored outside the user's transaction, alerted.

``got_request_exception``, :class:`ErrorLogHandler` and Celery's ``task_failure`` feed
:mod:`~django_prodkit.errors.capture`; the writer thread stores groups
(:class:`~django_prodkit.errors.models.ErrorGroup`); alerts listen to ``group_recorded``.
"""

from __future__ import annotations

from django_prodkit.errors.capture import (
    capture_exception,
    capture_message,
    link_sentry_event,
)
from django_prodkit.errors.handler import ErrorLogHandler
from django_prodkit.errors.signals import group_recorded


def flush(timeout: float = 10.0) -> bool:
    """Store every pending occurrence now; False when ``timeout`` ran out first.

    For tests, management commands and worker shutdown: a web process needs no call.
    """
    from django_prodkit.errors.writer import writer

    return writer.flush(timeout)


__all__ = [
    "ErrorLogHandler",
    "capture_exception",
    "capture_message",
    "flush",
    "group_recorded",
    "link_sentry_event",
]
