"""Every capability's models, so that Django finds them under the ``prodkit`` label."""

from __future__ import annotations

from django_prodkit.errors.models import ErrorGroup
from django_prodkit.health.models import HealthCheckRun
from django_prodkit.queries.models import SlowQuery
from django_prodkit.security.models import CSPReport

__all__ = ["CSPReport", "ErrorGroup", "HealthCheckRun", "SlowQuery"]
