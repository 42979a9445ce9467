"""``GET /metrics``: the Prometheus exposition, for staff, a token or allow-listed addresses."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from django_prodkit import conf, health, rollup
from django_prodkit.client_ip import get_client_ip
from django_prodkit.metrics.exposition import CONTENT_TYPE, render

__all__ = ["metrics"]

logger = logging.getLogger("django_prodkit.metrics")

NEEDS = (
    "/metrics needs Authorization: Bearer <METRICS.TOKEN>, a client address in "
    "METRICS.ALLOWED_IPS, or a staff login.\n"
)


@login_not_required
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Every instance's counters, from the shared roll-up totals; health from its cache."""
    options = conf.get().metrics
    if not options.enabled:
        raise Http404
    refusal = _refusal(request, options)
    if refusal is not None:
        return _text(refusal, 403)
    if request.method == "HEAD":
        return _text("", 200, CONTENT_TYPE)
    try:
        totals = rollup.totals()
    except rollup.StoreUnavailable as error:
        # Better no scrape than counters from this process alone, which would go backwards.
        logger.warning("/metrics: the roll-up store cannot be read: %s", error)
        return _text("The roll-up store cannot be read; see the server log.\n", 503)
    return _text(render(totals, _health()), 200, CONTENT_TYPE)


def _refusal(request: HttpRequest, options: conf.MetricsSettings) -> str | None:
    """``None`` when the caller may read the metrics, else why not."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    bearer = scheme.lower() == "bearer"
    if (
        bearer
        and options.token
        and hmac.compare_digest(given.strip().encode(), options.token.encode())
    ):
        return None
    if options.allowed_networks and _allowed(get_client_ip(request), options):
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return None
    return "The bearer token is not valid.\n" if bearer else NEEDS


def _allowed(address: str, options: conf.MetricsSettings) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in options.allowed_networks)


def _health() -> list[health.Result] | None:
    if not conf.get().health.enabled:
        return None
    try:
        # Results younger than HEALTH.CACHE_SECONDS are reused: scrapes do not run the
        # checks more often than the health endpoints do.
        return health.run_checks()
    except Exception:
        logger.exception("/metrics: the health checks could not be read")
        return None


def _text(body: str, status: int, content_type: str = "") -> HttpResponse:
    response = HttpResponse(
        body, status=status, content_type=content_type or "text/plain; charset=utf-8"
    )
    response["Cache-Control"] = "no-store"
    return response
