from __future__ import annotations

import logging
import time
from contextvars import Token

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from django_prodkit import conf
from django_prodkit._typing import AsyncGetResponse, GetResponse
from django_prodkit.conf import LogsSettings
from django_prodkit.logs.context import (
    current_request_id,
    generate_request_id,
    is_valid_request_id,
    set_request_id,
)

request_logger = logging.getLogger("django_prodkit.request")

_State = tuple[str, Token[str | None], int, LogsSettings]


class RequestIDMiddleware:
    """Give every request an ID and log one line when it finishes.

    A valid incoming request ID header is kept, anything else is replaced by a new one.
    The ID is returned in the response, stored on the request (``get_request_id``) and
    visible to every log record emitted while the request is handled.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        if not conf.get().logs.enabled:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        state = self._before(request)
        try:
            response = self.get_response(request)
            return self._after(request, response, state)  # type: ignore[arg-type]
        finally:
            current_request_id.reset(state[1])

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = self._before(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
            return self._after(request, response, state)
        finally:
            current_request_id.reset(state[1])

    def _before(self, request: HttpRequest) -> _State:
        started = time.perf_counter_ns()
        options = conf.get().logs
        request_id = request.META.get(options.request_id_meta_key)
        if not (
            options.trust_request_id
            and request_id
            and is_valid_request_id(request_id, options.request_id_max_length)
        ):
            request_id = generate_request_id()
        set_request_id(request, request_id)
        return request_id, current_request_id.set(request_id), started, options

    def _after(
        self, request: HttpRequest, response: HttpResponseBase, state: _State
    ) -> HttpResponseBase:
        request_id, _token, started, options = state
        response[options.request_id_header] = request_id
        if options.request_log and not request.path.startswith(
            options.request_log_skip
        ):
            _log_request(request, response, request_id, started)
        return response


def _log_request(
    request: HttpRequest, response: HttpResponseBase, request_id: str, started: int
) -> None:
    status = response.status_code
    # WARNING, not ERROR, for 5xx: Django's own "django.request" logger reports the error;
    # this line is the access log and must not count as a second error.
    level = logging.WARNING if status >= 500 else logging.INFO
    if not request_logger.isEnabledFor(level):
        return
    duration_ms = round((time.perf_counter_ns() - started) / 1e6, 3)
    match = request.resolver_match
    fields = {
        "method": request.method,
        "path": request.path,
        "route": match.route if match is not None else None,
        "status": status,
        "duration_ms": duration_ms,
        "request_id": request_id,
    }
    # makeRecord + handle rather than log(): the caller's file and line would always be this
    # function, and finding them walks the whole middleware stack on every request.
    record = request_logger.makeRecord(
        request_logger.name,
        level,
        __file__,
        0,
        "%s %s %s %.1fms",
        (request.method, request.path, status, duration_ms),
        None,
        extra=fields,
    )
    request_logger.handle(record)
