"""URLs of the idempotency tests."""

from __future__ import annotations

from django.urls import include, path, re_path

from tests.idempotency import views

urlpatterns = [
    path("", include("django_prodkit.urls")),
    path("orders/", views.create, name="create"),
    path("raw-cookie/", views.raw_cookie, name="raw-cookie"),
    path("async-orders/", views.acreate, name="acreate"),
    path("protected/", views.protected, name="protected"),
    path("slow-orders/", views.order, name="order"),
    path("held/", views.held, name="held"),
    path("hook/", views.hook, name="hook"),
    path("status/<int:code>/", views.status, name="status"),
    path("boom/", views.boom, name="boom"),
    path("stream/", views.stream, name="stream"),
    path("sized/<int:size>/", views.sized, name="sized"),
    re_path(r"^(?P<rest>.*)$", views.create, name="anything"),
]
