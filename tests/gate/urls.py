"""A URLconf that routes none of the kit's views."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
