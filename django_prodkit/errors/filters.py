"""What is noise: the rules that keep client errors and ignored errors out.

One set of rules for prodkit's own capture and for the Sentry integration's
``before_send``, so both leave out the same things.
"""

from __future__ import annotations

import functools
import logging

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.utils.module_loading import import_string

from django_prodkit import conf

__all__ = [
    "CLIENT_ERRORS",
    "is_client_error",
    "is_client_error_record",
    "is_ignored",
    "is_ignored_record",
]

# Exceptions Django answers with a 4xx response: client errors, not bugs.
CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    Http404,
    PermissionDenied,
    SuspiciousOperation,
    BadRequest,
    MultiPartParserError,
)


def is_client_error(exception: BaseException) -> bool:
    return isinstance(exception, CLIENT_ERRORS)


def is_client_error_record(record: logging.LogRecord) -> bool:
    """A record of Django's client-error paths: ``django.security.*`` (DisallowedHost
    and the other SuspiciousOperations) or a 4xx response of ``django.request``."""
    if record.name.startswith("django.security"):
        return True
    status = getattr(record, "status_code", None)
    return isinstance(status, int) and status < 500


def is_ignored(exception: BaseException, options: conf.ErrorsSettings) -> bool:
    """Whether capture leaves ``exception`` out (a client error, or ``IGNORE``)."""
    if not options.client_errors and is_client_error(exception):
        return True
    ignored = _ignored_types(options.ignore)
    return bool(ignored) and isinstance(exception, ignored)


def is_ignored_record(record: logging.LogRecord, options: conf.ErrorsSettings) -> bool:
    """Whether capture leaves ``record`` out (``IGNORE_LOGGERS``, or a client error)."""
    if options.ignore_loggers and record.name.startswith(options.ignore_loggers):
        return True
    return not options.client_errors and is_client_error_record(record)


@functools.lru_cache(maxsize=8)
def _ignored_types(paths: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    found = []
    for path in paths:
        try:
            found.append(import_string(path))
        except ImportError:
            continue  # Reported by the system check prodkit.E070.
    return tuple(item for item in found if isinstance(item, type))
