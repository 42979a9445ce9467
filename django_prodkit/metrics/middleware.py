from __future__ import annotations

import contextlib
import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve, reverse

from django_prodkit import conf
from django_prodkit._typing import AsyncGetResponse, GetResponse
from django_prodkit.metrics import store

__all__ = ["UNMATCHED", "MetricsMiddleware", "route_of", "skip_paths"]

logger = logging.getLogger("django_prodkit.metrics")

UNMATCHED = "<unmatched>"
# Methods outside this set are counted as "other": a client can send any token there.
METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class MetricsMiddleware:
    """Time every request and count it by route pattern, method and status class.

    The counts go to the shared roll-up store (``django_prodkit.rollup``), whose periodic
    flush is the only I/O. Requests under ``METRICS.SKIP_PATHS`` are not counted.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        if not conf.get().metrics.enabled:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        if _skipped(request.path_info):
            return self.get_response(request)  # type: ignore[return-value]
        started = time.perf_counter()
        try:
            response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
        except Exception:
            _record(request, 500, time.perf_counter() - started)
            raise
        _record(request, response.status_code, time.perf_counter() - started)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if _skipped(request.path_info):
            return await self.get_response(request)  # type: ignore[no-any-return, misc]
        started = time.perf_counter()
        try:
            response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        except Exception:
            _record(request, 500, time.perf_counter() - started)
            raise
        _record(request, response.status_code, time.perf_counter() - started)
        return response


def _record(request: HttpRequest, status: int, seconds: float) -> None:
    try:
        method = request.method or "GET"
        store.record(
            route_of(request, status),
            method if method in METHODS else "other",
            _STATUS_CLASSES.get(status // 100, "other"),
            seconds,
        )
    except Exception:  # Counting must never break the response it counts.
        logger.exception("request metrics could not be recorded")


def route_of(request: HttpRequest, status: int = 200) -> str:
    """The route pattern of ``request`` as a label: never its raw path.

    ``"/" + resolver_match.route`` (``/notes/<int:pk>/``, ``/`` for the root, the regex
    of a ``re_path``), or the view's name when there is no pattern; a request answered before URL resolution (a 429 from the rate
    limiter, a redirect) is resolved here, except a 404, which is ``"<unmatched>"``.
    """
    match = request.resolver_match
    if match is None:
        if status == 404:
            return UNMATCHED
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return UNMATCHED
    # None from a ResolverMatch built by hand (some third-party resolvers do).
    route: str | None = match.route
    if route is None:
        return match.view_name or UNMATCHED
    return "/" + route


_Skip = tuple[tuple[str, ...], frozenset[str]]
_skip: tuple[conf.MetricsSettings, _Skip] | None = None


def _skipped(path: str) -> bool:
    prefixes, exact = skip_paths()
    return path in exact or path.startswith(prefixes)


def skip_paths() -> _Skip:
    """Path prefixes and exact paths whose requests are not counted.

    ``METRICS.SKIP_PATHS`` are prefixes. By default: the health endpoints, static and
    media files as prefixes, and ``/metrics`` exactly (not ``/metrics-dashboard/``).
    """
    global _skip
    options = conf.get().metrics
    current = _skip
    if current is not None and current[0] is options:
        return current[1]
    if options.skip_paths is not None:
        found: _Skip = (options.skip_paths, frozenset())
    else:
        prefixes = []
        with contextlib.suppress(NoReverseMatch):
            prefixes.append(reverse("prodkit:health"))
        for url in (getattr(settings, "STATIC_URL", None), settings.MEDIA_URL):
            if url and str(url).startswith("/") and str(url) != "/":
                prefixes.append(str(url))
        exact = []
        with contextlib.suppress(NoReverseMatch):
            exact.append(reverse("prodkit:metrics"))
        found = (_without_script(prefixes), frozenset(_without_script(exact)))
    _skip = (options, found)
    return found


def _without_script(paths: list[str]) -> tuple[str, ...]:
    # reverse() and relative STATIC_URL/MEDIA_URL carry SCRIPT_NAME; path_info does not.
    script = get_script_prefix()
    return tuple(
        "/" + path.removeprefix(script) if path.startswith(script) else path
        for path in paths
    )


@receiver(setting_changed, dispatch_uid="django_prodkit.metrics.middleware")
def _reset(*, setting: str, **kwargs: object) -> None:
    global _skip
    if setting in ("PRODKIT", "ROOT_URLCONF", "STATIC_URL", "MEDIA_URL"):
        _skip = None
