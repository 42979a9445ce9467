from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase

from django_prodkit._typing import AsyncGetResponse, GetResponse
from django_prodkit.locking.http import error_response

__all__ = ["ConflictMiddleware"]


class ConflictMiddleware:
    """Answer a view's ``ConflictError`` with 409 JSON instead of a 500.

    ``{"error": "conflict", "model": ..., "pk": ..., "current_version": N}``, with the
    row's current version as ``ETag``. Also answers ``PreconditionFailed`` (412) and
    ``PreconditionRequired`` (428) from ``check_if_match``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Django calls process_exception() for a view's exception; nothing else to do.
        return self.get_response(request)  # type: ignore[return-value]

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> JsonResponse | None:
        return error_response(exception, request)
