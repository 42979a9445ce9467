"""Views that fail in the ways the capture tests need."""

from __future__ import annotations

import json

from django.core.exceptions import BadRequest, PermissionDenied
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from tests.locking.models import Folder


class OrderMissing(LookupError):
    pass


def load_order(order_id: int) -> None:
    raise OrderMissing(
        f"order {order_id} does not exist (looked up by 'ref-{order_id}')"
    )


def order(request: HttpRequest, pk: int) -> HttpResponse:
    load_order(pk)
    return HttpResponse()


def divide(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(str(1 / (pk - pk)))


def parse_json(text: str) -> object:
    return json.loads(text)  # Fails inside the standard library.


def library(request: HttpRequest) -> HttpResponse:
    parse_json("{not json")
    return HttpResponse()


def not_found(request: HttpRequest) -> HttpResponse:
    raise Http404("no such page")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def bad_request(request: HttpRequest) -> HttpResponse:
    raise BadRequest("bad")


def broken_transaction(request: HttpRequest) -> HttpResponse:
    with transaction.atomic():
        Folder.objects.create(name="rolled back")
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_at_all")
    return HttpResponse()


@csrf_exempt
@sensitive_post_parameters("pin")
@sensitive_variables("card")
def leaky(request: HttpRequest) -> HttpResponse:
    """Holds a secret in every place capture looks, then fails."""
    form = dict(request.POST.items())
    body = request.body if request.content_type == "application/json" else b""
    secret_value = request.GET.get("note", "")  # a secret under an innocent query name
    card = "4111-CARD-SECRET"
    api_key = "LOCAL-API-KEY-SECRET"
    raise RuntimeError(
        f"failed for {len(form)} fields and {len(body)} bytes {secret_value[:0]}{card[:0]}{api_key[:0]}"
    )


urlpatterns = [
    path("order/<int:pk>/", order),
    path("divide/<int:pk>/", divide),
    path("library/", library),
    path("not-found/", not_found),
    path("forbidden/", forbidden),
    path("bad-request/", bad_request),
    path("broken-transaction/", broken_transaction),
    path("leaky/", leaky),
]
