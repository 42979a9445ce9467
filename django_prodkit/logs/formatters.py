from __future__ import annotations

import datetime as dt
import json
import logging

from django.http import HttpRequest

from django_prodkit.logs.context import (
    NO_REQUEST_ID,
    current_request_id,
    get_request_id,
)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None))
) | {"message", "asctime", "request_id"}


def _record_request_id(record: logging.LogRecord) -> str | None:
    if (request_id := getattr(record, "request_id", None)) is not None:
        return str(request_id)
    if (request_id := current_request_id.get()) is not None:
        return request_id
    # Django logs 4xx/5xx responses ("Not Found: /x") after the middleware stack has
    # returned, with the request in ``extra``: the ID is read from the request itself.
    request = getattr(record, "request", None)
    return get_request_id(request) if isinstance(request, HttpRequest) else None


class RequestIDFilter(logging.Filter):
    """Set ``record.request_id`` to the current request's ID, or ``"-"`` outside a request.

    Attach it to a handler (not a logger) so that it sees records propagated from every
    logger; then ``%(request_id)s`` works in any format string.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _record_request_id(record) or NO_REQUEST_ID
        return True


class JSONFormatter(logging.Formatter):
    """Format each record as one line of JSON.

    Keys: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``request_id``
    (``null`` outside a request), every ``extra`` field, and ``exception``/``stack`` when the
    record carries them. Values that JSON cannot hold are written with ``str()``.
    """

    _last_second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        request_id = _record_request_id(record)
        document: dict[str, object] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id == NO_REQUEST_ID else request_id,
        }
        attributes = vars(record)
        for key in attributes.keys() - _STANDARD_ATTRIBUTES:
            value = attributes[key]
            # Django's "django.request" records carry the HttpRequest itself: its repr adds
            # nothing and its attributes (cookies, headers) must never reach a log.
            if (
                key[0] != "_"
                and key not in document
                and not isinstance(value, HttpRequest)
            ):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, default=str)

    def _time(self, record: logging.LogRecord) -> str:
        """ISO 8601 in UTC with milliseconds; the part down to the second is reused."""
        second = int(record.created)
        cached = self._last_second
        if cached[0] != second:
            prefix = dt.datetime.fromtimestamp(second, tz=dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%S"
            )
            cached = self._last_second = (second, prefix)
        return f"{cached[1]}.{int(record.msecs):03d}+00:00"
