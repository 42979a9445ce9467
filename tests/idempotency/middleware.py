"""A middleware that parses the form before ``IdempotencyMiddleware`` sees the request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase


class ReadFormMiddleware:
    """Reads ``request.POST``: a multipart body is then consumed as a stream."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.POST  # noqa: B018
        return self.get_response(request)
