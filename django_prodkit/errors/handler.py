from __future__ import annotations

import logging

from django_prodkit.errors.capture import capture_record

__all__ = ["ErrorLogHandler"]


class ErrorLogHandler(logging.Handler):
    """A logging handler that records error-level records as error groups.

    Add it to ``LOGGING`` (see the docs); it defaults to level ``ERROR``. A record whose
    exception was captured already (Django logs every 500 it also signals) is skipped,
    so an error is one occurrence however many routes report it. It never raises and
    never writes to the database itself.
    """

    def __init__(self, level: int | str = logging.ERROR) -> None:
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        capture_record(record)
