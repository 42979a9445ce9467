"""``RateLimitMiddleware``: every rule that matches a request, checked before the view."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from django_prodkit._typing import AsyncGetResponse, GetResponse
from django_prodkit.ratelimit.core import Decision, Limiter, get_limiter
from django_prodkit.ratelimit.responses import (
    add_headers,
    service_unavailable,
    too_many_requests,
)
from django_prodkit.ratelimit.rules import USER_ATTRIBUTE, Rule

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Apply ``PRODKIT["RATELIMIT"]["RULES"]``; place it after ``AuthenticationMiddleware``.

    Exempt paths and requests that no rule matches cost a prefix test and a loop over the
    rules: no cache or Redis call. Otherwise one call to the backend decides (one round
    trip with the sliding backend, whatever the number of rules).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        limiter = get_limiter()
        rules = limiter.matching(request)
        if not rules:
            return self.get_response(request)  # type: ignore[return-value]
        decision = limiter.decide(request, rules)
        refusal = _refusal(limiter, decision)
        if refusal is not None:
            return refusal
        response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
        return _with_headers(limiter, decision, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        limiter = get_limiter()
        rules = limiter.matching(request)
        if not rules:
            return await self.get_response(request)  # type: ignore[no-any-return,misc]
        if any(rule.needs_user for rule in rules) and hasattr(request, "auser"):
            # The sync user property would query the session from the event loop, or
            # from the worker thread that runs the backend (for RATE and KEY functions,
            # which read request.user): load it once here, the async way.
            user = await request.auser()
            setattr(request, USER_ATTRIBUTE, user)
            request.user = user
        decision = await _decide_in_thread(limiter, request, rules)
        refusal = _refusal(limiter, decision)
        if refusal is not None:
            return refusal
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        return _with_headers(limiter, decision, response)


async def _decide_in_thread(
    limiter: Limiter, request: HttpRequest, rules: list[Rule]
) -> Decision:
    # The backends are blocking clients; keep them off the event loop.
    return await sync_to_async(limiter.decide, thread_sensitive=False)(request, rules)


def _refusal(limiter: Limiter, decision: Decision) -> HttpResponseBase | None:
    if decision.limited:
        return too_many_requests(decision)
    if decision.failed and limiter.options.fail == "closed":
        return service_unavailable(int(limiter.breaker_seconds))
    return None


def _with_headers(
    limiter: Limiter, decision: Decision, response: HttpResponseBase
) -> HttpResponseBase:
    if decision.usages and limiter.options.headers_on_success:
        add_headers(response, decision.usages, limiter.options.headers)
    return response
