"""ModelAdmins for prodkit's models, found by Django's admin autodiscovery."""

from __future__ import annotations

from django.contrib import admin

from django_prodkit.admin.health import HealthCheckRunAdmin
from django_prodkit.health.models import HealthCheckRun

admin.site.register(HealthCheckRun, HealthCheckRunAdmin)

__all__ = ["HealthCheckRunAdmin"]
