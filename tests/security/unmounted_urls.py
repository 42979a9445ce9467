"""A site that does not mount django_prodkit.urls, so there is no CSP report URL."""

from __future__ import annotations

from django.urls import path

from tests.security import views

urlpatterns = [path("plain/", views.plain)]
