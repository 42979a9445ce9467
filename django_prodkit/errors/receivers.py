"""The receivers that ``ready()`` connects: Django's and Celery's failure signals.

Neither may raise: Django sends ``got_request_exception`` with ``send()``, so an
exception here would replace the user's 500 page with another error.
"""

from __future__ import annotations

import sys
from typing import Any

from django.http import HttpRequest

from django_prodkit import conf
from django_prodkit.errors.capture import _internal_failure, record_exception
from django_prodkit.errors.context import repr_short, short
from django_prodkit.scrub import scrub_text, scrub_value

__all__ = ["request_failed", "task_failed"]


def request_failed(
    sender: object, request: HttpRequest | None = None, **kwargs: object
) -> None:
    """Receiver of ``got_request_exception``: Django sends it only for a 500."""
    try:
        exception = sys.exc_info()[1]
        if exception is None or not conf.get().errors.capture_requests:
            return
        record_exception(
            exception, request=request, severity="error", source="request", context=None
        )
    except Exception as error:
        _internal_failure(error)


def task_failed(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    **extra: Any,
) -> None:
    """Receiver of Celery's ``task_failure``: sent once a task has failed for good.

    A failure Celery will retry (``self.retry()``, ``autoretry_for``) sends ``task_retry``
    instead, so it never counts here.
    """
    try:
        if exception is None or not conf.get().errors.capture_tasks:
            return
        request = getattr(sender, "request", None)
        task = {
            "name": str(getattr(sender, "name", "") or ""),
            "id": str(task_id or ""),
            "retries": getattr(request, "retries", None),
            # scrub_value masks sensitive keys of dicts; the repr is scrubbed as text.
            "args": short(scrub_text(repr_short(scrub_value(args)))),
            "kwargs": short(scrub_text(repr_short(scrub_value(kwargs)))),
        }
        record_exception(
            exception,
            request=None,
            severity="error",
            source="task",
            context={"task": task},
        )
    except Exception as error:
        _internal_failure(error)
