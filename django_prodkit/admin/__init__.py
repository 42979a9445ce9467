"""ModelAdmins for prodkit's models, found by Django's admin autodiscovery."""

from __future__ import annotations

from django.contrib import admin

from django_prodkit.admin.errors import ErrorGroupAdmin
from django_prodkit.admin.health import HealthCheckRunAdmin
from django_prodkit.admin.queries import SlowQueryAdmin
from django_prodkit.admin.security import CSPReportAdmin
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.health.models import HealthCheckRun
from django_prodkit.queries.models import SlowQuery
from django_prodkit.security.models import CSPReport

admin.site.register(HealthCheckRun, HealthCheckRunAdmin)
admin.site.register(CSPReport, CSPReportAdmin)
admin.site.register(ErrorGroup, ErrorGroupAdmin)
admin.site.register(SlowQuery, SlowQueryAdmin)

__all__ = ["CSPReportAdmin", "ErrorGroupAdmin", "HealthCheckRunAdmin", "SlowQueryAdmin"]
