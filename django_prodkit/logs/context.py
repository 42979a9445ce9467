from __future__ import annotations

import os
import re
from contextvars import ContextVar

from django.http import HttpRequest

# What a text log line shows when a record belongs to no request.
NO_REQUEST_ID = "-"

# Printable, unquoted and space-free, so an ID can go into any log format without escaping
# and cannot forge a log line; ';' and '=' admit tracing IDs such as AWS's X-Amzn-Trace-Id.
_VALID_ID = re.compile(r"[A-Za-z0-9._:;+=/@-]+", re.ASCII)
_REQUEST_ATTRIBUTE = "_prodkit_request_id"

current_request_id: ContextVar[str | None] = ContextVar(
    "prodkit_request_id", default=None
)


def get_request_id(request: HttpRequest | None = None) -> str | None:
    """The request ID of ``request``, or of the request being handled in this context."""
    if request is None:
        return current_request_id.get()
    value: str | None = getattr(request, _REQUEST_ATTRIBUTE, None)
    return value


def set_request_id(request: HttpRequest, request_id: str) -> None:
    setattr(request, _REQUEST_ATTRIBUTE, request_id)


def is_valid_request_id(value: str, max_length: int) -> bool:
    return len(value) <= max_length and _VALID_ID.fullmatch(value) is not None


def generate_request_id() -> str:
    # 128 random bits as 32 hex digits: the shape of uuid4().hex at a fifth of its cost.
    return os.urandom(16).hex()
