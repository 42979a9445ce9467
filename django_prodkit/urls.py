"""The kit's endpoints: ``path("", include("django_prodkit.urls"))``."""

from __future__ import annotations

from django.urls import path

from django_prodkit.health import views as health
from django_prodkit.metrics import views as metrics
from django_prodkit.security import views as security

app_name = "prodkit"

urlpatterns = [
    path("health/live/", health.live, name="health-live"),
    path("health/ready/", health.ready, name="health-ready"),
    path("health/", health.health, name="health"),
    path("csp-report/", security.csp_report, name="csp-report"),
    path("metrics", metrics.metrics, name="metrics"),
]
