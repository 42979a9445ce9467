"""``/health/live/``, ``/health/ready/`` and ``/health/``."""

from __future__ import annotations

import hmac
import json

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from django_prodkit import conf
from django_prodkit.health.base import overall
from django_prodkit.health.service import document, run_checks

_LIVE = b'{"status": "ok"}'


@login_not_required
@require_safe
def live(request: HttpRequest) -> HttpResponse:
    """200 while the process can answer at all; touches no database or cache."""
    if not conf.get().health.enabled:
        raise Http404
    return _response(_LIVE, 200)


@login_not_required
@require_safe
def ready(request: HttpRequest) -> HttpResponse:
    """The critical checks only: 503 as soon as one of them fails."""
    return _health(request, critical_only=True)


@login_not_required
@require_safe
def health(request: HttpRequest) -> HttpResponse:
    """Every check: ``healthy``, ``degraded`` (200) or ``unhealthy`` (503)."""
    return _health(request, critical_only=False)


def _health(request: HttpRequest, *, critical_only: bool) -> HttpResponse:
    if not conf.get().health.enabled:
        raise Http404
    results = run_checks(critical_only=critical_only)
    body = document(results, detailed=is_trusted(request))
    status = 503 if overall(results) == "unhealthy" else 200
    return _response(json.dumps(body).encode(), status)


def _response(content: bytes, status: int) -> HttpResponse:
    response = HttpResponse(content, status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def is_trusted(request: HttpRequest) -> bool:
    """Staff users, and callers presenting ``Authorization: Bearer <HEALTH.TOKEN>``."""
    token = conf.get().health.token
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)
