"""Views and URLs of the Sentry tests: each holds or raises what an event must not leak."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from tests.errors.capture_views import bad_request, forbidden, not_found


@csrf_exempt
def leaky(request: HttpRequest) -> HttpResponse:
    auth_header = request.headers.get("Authorization", "")
    api_key = "sekrit-local-0008"
    payment_api_key = "sekrit-local-0009"
    key = getattr(settings, "STRIPE_SECRET_KEY", "")
    form = request.POST
    # Innocent names holding the request's secrets.
    reference = request.GET.get("token", "")
    chosen = form.get("password2", "")
    raise RuntimeError(
        f"card refused with {key} ({len(auth_header)}, {len(api_key)}, "
        f"{len(payment_api_key)}, {len(form)}, {len(reference)}, {len(chosen)})"
    )


@sensitive_variables("pin")
def sensitive(request: HttpRequest) -> HttpResponse:
    pin = f"sekrit-pin-{10:04d}"  # the whole value is not in the source context
    raise RuntimeError(f"wrong pin of length {len(pin)}")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom in a view")


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousFileOperation("../../etc/passwd")


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("leaky/", leaky),
    path("sensitive/", sensitive),
    path("boom/", boom),
    path("not-found/", not_found),
    path("forbidden/", forbidden),
    path("bad-request/", bad_request),
    path("suspicious/", suspicious),
    path("ok/", ok),
]
