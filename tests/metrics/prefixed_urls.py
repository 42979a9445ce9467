from __future__ import annotations

from django.urls import include, path

from tests.metrics import views

urlpatterns = [
    path("ops/", include("django_prodkit.urls")),
    path("ops/metrics-dashboard/", views.home, name="dashboard"),
]
