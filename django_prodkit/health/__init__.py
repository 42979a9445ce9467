"""Health: liveness, readiness and full health endpoints, checks, history."""

from __future__ import annotations

from django_prodkit.exceptions import ServiceUnavailable, ServiceWarning
from django_prodkit.health.base import Check, Result
from django_prodkit.health.registry import registry
from django_prodkit.health.service import run_checks

register = registry.register
unregister = registry.unregister

__all__ = [
    "Check",
    "Result",
    "ServiceUnavailable",
    "ServiceWarning",
    "register",
    "run_checks",
    "unregister",
]
