"""A view that fails, for the alert tests that go through a whole request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


class CheckoutFailed(Exception):
    pass


def checkout(request: HttpRequest) -> HttpResponse:
    raise CheckoutFailed("payment provider answered 502")


urlpatterns = [path("checkout/", checkout, name="checkout")]
