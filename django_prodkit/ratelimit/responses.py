"""What a limited request gets: 429 JSON, ``Retry-After`` and rate-limit headers.

Header styles (``PRODKIT["RATELIMIT"]["HEADERS"]``):

- ``"ietf"``: ``RateLimit-Policy`` and ``RateLimit`` as structured fields, one item per
  rule (draft-ietf-httpapi-ratelimit-headers-08 and later);
- ``"legacy"``: ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (drafts up
  to -06) for the rule closest to its limit;
- ``"x"``: the same three as ``X-RateLimit-*``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

from django_prodkit import conf
from django_prodkit.ratelimit.backends import Usage
from django_prodkit.ratelimit.core import Decision

__all__ = ["HEADER_NAMES", "add_headers", "service_unavailable", "too_many_requests"]

HEADER_NAMES = {
    "ietf": ("RateLimit-Policy", "RateLimit"),
    "legacy": ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"),
    "x": ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"),
}


def too_many_requests(decision: Decision) -> HttpResponse:
    """429 with ``{"error": "rate_limited", "retry_after": S}``, or 503 if the store failed."""
    if decision.failed:
        return service_unavailable(decision.retry_after)
    retry_after = max(decision.retry_after, 1)
    response = JsonResponse(
        {"error": "rate_limited", "retry_after": retry_after}, status=429
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    add_headers(response, decision.usages)
    return response


def service_unavailable(retry_after: int) -> HttpResponse:
    """503 for ``FAIL = "closed"`` while the counter store is unreachable."""
    retry_after = max(retry_after, 1)
    response = JsonResponse(
        {
            "error": "rate_limit_unavailable",
            "message": "The rate limiter cannot reach its store; try again shortly.",
            "retry_after": retry_after,
        },
        status=503,
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def add_headers(
    response: HttpResponseBase,
    usages: Sequence[Usage],
    styles: Sequence[str] | None = None,
) -> None:
    """Describe ``usages`` in the configured header styles."""
    if not usages:
        return
    if styles is None:
        styles = conf.get().ratelimit.headers
    if "ietf" in styles:
        response["RateLimit-Policy"] = ", ".join(
            f'"{usage.rule}";q={usage.limit};w={usage.period}' for usage in usages
        )
        response["RateLimit"] = ", ".join(
            f'"{usage.rule}";r={usage.remaining};t={usage.reset}' for usage in usages
        )
    if "legacy" not in styles and "x" not in styles:
        return
    tightest = min(usages, key=lambda usage: (usage.remaining, -usage.reset))
    values = (str(tightest.limit), str(tightest.remaining), str(tightest.reset))
    for style in ("legacy", "x"):
        if style in styles:
            for name, value in zip(HEADER_NAMES[style], values, strict=True):
                response[name] = value
