"""Request IDs and structured logs."""

from __future__ import annotations

from django_prodkit.logs.context import get_request_id
from django_prodkit.logs.formatters import JSONFormatter, RequestIDFilter
from django_prodkit.logs.middleware import RequestIDMiddleware

__all__ = ["JSONFormatter", "RequestIDFilter", "RequestIDMiddleware", "get_request_id"]
