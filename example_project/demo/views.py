from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from demo.db import sleep_query
from django_prodkit.logs import get_request_id

SLOW_QUERY_SECONDS = 0.25


@require_GET
def index(request: HttpRequest) -> JsonResponse:
    endpoints = {
        reverse("demo:ping"): "answers pong: true",
        reverse("demo:boom"): "raises RuntimeError: a 500 with an X-Request-ID",
        reverse(
            "demo:slow"
        ): f"runs one SQL query of {SLOW_QUERY_SECONDS * 1000:.0f} ms",
        reverse("prodkit:health-live"): "liveness: 200 while the process answers",
        reverse("prodkit:health-ready"): "readiness: critical checks, 503 on failure",
        reverse("prodkit:health"): "every health check; details with the token",
        reverse("admin:index"): "the Django admin (manage.py seed_demo prints a login)",
    }
    return JsonResponse({"project": "django-prodkit example", "endpoints": endpoints})


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"pong": True})


@require_GET
def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("boom: the demo's deliberate error")


@require_GET
def slow(request: HttpRequest) -> JsonResponse:
    elapsed_ms = sleep_query(SLOW_QUERY_SECONDS)
    return JsonResponse(
        {"query_ms": round(elapsed_ms, 1), "database": connection.vendor}
    )


def server_error(request: HttpRequest) -> JsonResponse:
    """The 500 answer when DEBUG is off: the request ID ties it to the logged traceback."""
    body = {"error": "server_error", "request_id": get_request_id(request)}
    return JsonResponse(body, status=500)
