from __future__ import annotations

import logging
from contextvars import Token

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty

from django_prodkit import conf
from django_prodkit._typing import AsyncGetResponse, GetResponse
from django_prodkit.conf import QueriesSettings
from django_prodkit.logs import get_request_id
from django_prodkit.queries.stats import QueryStats, current, report_repeats, start

__all__ = ["SERVER_TIMING_HEADER", "QueriesMiddleware", "server_timing"]

logger = logging.getLogger("django_prodkit.queries")

SERVER_TIMING_HEADER = "server-timing"

_State = tuple[QueryStats, Token[QueryStats | None]]


class QueriesMiddleware:
    """Count each request's queries and database time; report N+1 and budgets.

    Adds ``Server-Timing: db;dur=…;desc="N queries", app;dur=…`` where
    ``QUERIES.SERVER_TIMING`` says so. ``db`` is the time spent in queries, ``app`` the
    rest of the time the request spent inside this middleware, so the two add up to it.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        if not conf.get().queries.enabled:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        stats, token = self._before(request)
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        return self._after(request, response, stats)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        stats, token = self._before(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        finally:
            current.reset(token)
        return self._after(request, response, stats)

    def _before(self, request: HttpRequest) -> _State:
        stats = start(request)
        return stats, current.set(stats)

    def _after(
        self, request: HttpRequest, response: HttpResponseBase, stats: QueryStats
    ) -> HttpResponseBase:
        stats.stop()
        options = conf.get().queries
        report_repeats(stats, request)
        _check_budgets(request, stats, options)
        if _wants_timing(request, options):
            header = server_timing(stats)
            existing = response.get(SERVER_TIMING_HEADER)
            response[SERVER_TIMING_HEADER] = (
                f"{existing}, {header}" if existing else header
            )
        return response


def server_timing(stats: QueryStats) -> str:
    """The ``Server-Timing`` value of ``stats``: ``db`` and ``app`` in milliseconds."""
    noun = "query" if stats.count == 1 else "queries"
    return (
        f'db;dur={stats.db_ms:.1f};desc="{stats.count} {noun}", '
        f"app;dur={stats.app_ms:.1f}"
    )


def _wants_timing(request: HttpRequest, options: QueriesSettings) -> bool:
    if options.server_timing is not None:
        return options.server_timing
    return settings.DEBUG or _is_loaded_staff(request)


def _is_loaded_staff(request: HttpRequest) -> bool:
    # Only a user the request already loaded: loading it here would cost a query.
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            user = request.__dict__.get("_acached_user")
    return bool(getattr(user, "is_staff", False) and getattr(user, "is_active", False))


def _check_budgets(
    request: HttpRequest, stats: QueryStats, options: QueriesSettings
) -> None:
    over = []
    if options.max_queries is not None and stats.count > options.max_queries:
        over.append(f"{stats.count} queries (budget {options.max_queries})")
    if options.max_db_ms is not None and stats.db_ms > options.max_db_ms:
        over.append(
            f"{stats.db_ms:.1f} ms in the database (budget {options.max_db_ms:g} ms)"
        )
    if not over:
        return
    logger.warning(
        "%s %s is over its query budget: %s",
        request.method,
        stats.route or request.path,
        "; ".join(over),
        extra={
            "route": stats.route,
            "queries": stats.count,
            "db_ms": round(stats.db_ms, 3),
            "request_id": get_request_id(request),
        },
    )
