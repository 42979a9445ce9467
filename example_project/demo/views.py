from __future__ import annotations

import json

from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from demo.db import sleep_query
from demo.models import Note, Order
from django_prodkit.locking import check_if_match, set_etag
from django_prodkit.logs import get_request_id

SLOW_QUERY_SECONDS = 0.25
# More rows than QUERIES.N_PLUS_ONE in the example's settings, so the loop is reported.
N_PLUS_ONE_ROWS = 20


@require_GET
def index(request: HttpRequest) -> JsonResponse:
    endpoints = {
        reverse("demo:ping"): "answers pong: true",
        reverse("demo:boom"): (
            "raises RuntimeError: a 500 with an X-Request-ID, counted in an error group"
        ),
        reverse(
            "demo:slow"
        ): f"runs one SQL query of {SLOW_QUERY_SECONDS * 1000:.0f} ms",
        reverse("demo:n-plus-one"): (
            f"reads {N_PLUS_ONE_ROWS} permissions and each one's content type in a "
            "loop: an N+1 pattern, reported in the log; ?fixed=1 joins them"
        ),
        reverse("demo:notes"): "GET lists notes, POST {text} creates one",
        reverse("demo:note", args=[1]): (
            "GET a note (ETag: its version); PUT {text, version} saves it, "
            "409 when the version is stale"
        ),
        reverse("demo:orders"): (
            "GET lists orders, POST {item, quantity} creates one; "
            "an Idempotency-Key header makes a retried POST one order"
        ),
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


@require_GET
def n_plus_one(request: HttpRequest) -> JsonResponse:
    """Each permission's content type, read the N+1 way unless ``?fixed=1`` joins it."""
    fixed = request.GET.get("fixed") == "1"
    permissions = Permission.objects.order_by("pk")[:N_PLUS_ONE_ROWS]
    if fixed:
        permissions = permissions.select_related("content_type")
    with CaptureQueriesContext(connections[permissions.db]) as captured:
        rows = [
            {"codename": permission.codename, "model": permission.content_type.model}
            for permission in permissions
        ]
    return JsonResponse({"fixed": fixed, "queries": len(captured), "permissions": rows})


class BadInput(ValueError):
    """The request's JSON is not what the endpoint takes: a 400 with the reason."""


def _json(request: HttpRequest) -> dict[str, object]:
    try:
        data = json.loads(request.body or b"null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    return data


def _text(data: dict[str, object], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadInput(
            f"{name!r} must be a non-empty string of at most {limit} characters"
        )
    return value


def _count(data: dict[str, object], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise BadInput(f"{name!r} must be an integer from {low} to {high}")
    return value


def _bad_input(exc: BadInput) -> JsonResponse:
    return JsonResponse({"error": "bad_request", "detail": str(exc)}, status=400)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def notes(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"notes": [note.as_dict() for note in Note.objects.all()]})
    try:
        text = _text(_json(request), "text", 10_000)
    except BadInput as exc:
        return _bad_input(exc)
    note = Note.objects.create(text=text)
    response = JsonResponse(note.as_dict(), status=201)
    response["Location"] = reverse("demo:note", args=[note.pk])
    set_etag(response, note)
    return response


@csrf_exempt
@require_http_methods(["GET", "PUT"])
def note(request: HttpRequest, pk: int) -> JsonResponse:
    """PUT ``{"text": ..., "version": N}``: 200 with the new version, 409 if N is stale.

    ``If-Match: "N"`` may carry the version instead of the body (412 when stale).
    """
    instance = get_object_or_404(Note, pk=pk)
    if request.method == "PUT":
        try:
            data = _json(request)
            instance.text = _text(data, "text", 10_000)
            if "version" in data:
                instance.version = _count(data, "version", 0, 2**31 - 1)
            elif "If-Match" not in request.headers:
                raise BadInput("send the version you read: in the body or as If-Match")
        except BadInput as exc:
            return _bad_input(exc)
        check_if_match(request, instance)
        # A stale version raises ConflictError: ConflictMiddleware answers 409.
        instance.save()
    response = JsonResponse(instance.as_dict())
    set_etag(response, instance)
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def orders(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        listing = [order.as_dict() for order in Order.objects.all()]
        return JsonResponse({"count": len(listing), "orders": listing})
    try:
        data = _json(request)
        order = Order(
            item=_text(data, "item", 100), quantity=_count(data, "quantity", 1, 1000)
        )
    except BadInput as exc:
        return _bad_input(exc)
    order.save()
    return JsonResponse(order.as_dict(), status=201)


def server_error(request: HttpRequest) -> JsonResponse:
    """The 500 answer when DEBUG is off: the request ID ties it to the logged traceback."""
    body = {"error": "server_error", "request_id": get_request_id(request)}
    return JsonResponse(body, status=500)
