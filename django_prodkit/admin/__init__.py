"""ModelAdmins for prodkit's models, found by Django's admin autodiscovery."""

from __future__ import annotations

from django.contrib import admin

from django_prodkit.admin.errors import ErrorGroupAdmin
from django_prodkit.admin.health import HealthCheckRunAdmin
from django_prodkit.admin.security import CSPReportAdmin
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.health.models import HealthCheckRun
from django_prodkit.security.models import CSPReport

admin.site.register(HealthCheckRun, HealthCheckRunAdmin)
admin.site.register(CSPReport, CSPReportAdmin)
admin.site.register(ErrorGroup, ErrorGroupAdmin)

__all__ = ["CSPReportAdmin", "ErrorGroupAdmin", "HealthCheckRunAdmin"]
