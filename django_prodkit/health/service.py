"""Run the registered checks and turn the results into the endpoint's document."""

from __future__ import annotations

import platform
import socket
import time
from typing import Literal

import django

import django_prodkit
from django_prodkit import conf
from django_prodkit.health.base import Result, overall
from django_prodkit.health.builtins import MB, resident_memory
from django_prodkit.health.registry import registry
from django_prodkit.health.runner import runner

_STARTED = time.time()

HealthStatus = Literal["healthy", "degraded", "unhealthy"]


def run_checks(*, critical_only: bool = False, use_cache: bool = True) -> list[Result]:
    """Run the checks (only the critical ones for readiness).

    With ``use_cache`` a result younger than ``HEALTH.CACHE_SECONDS`` is reused, and a
    check already running is waited on rather than started again.
    """
    health = conf.get().health
    checks = registry.checks()
    if critical_only:
        checks = [check for check in checks if check.critical]
    return runner.run(
        checks,
        default_timeout=health.timeout,
        max_age=health.cache_seconds if use_cache else 0.0,
    )


def document(results: list[Result], *, detailed: bool) -> dict[str, object]:
    """The JSON body of ``/health/`` and ``/health/ready/``."""
    body: dict[str, object] = {
        "status": overall(results),
        "checks": {
            result.name: result.as_dict(detailed=detailed) for result in results
        },
    }
    if detailed:
        body.update(
            hostname=socket.gethostname(),
            uptime_seconds=round(time.time() - _STARTED),
            memory_rss_mb=round(resident_memory() / MB, 1),
            versions={
                "python": platform.python_version(),
                "django": django.get_version(),
                "django_prodkit": django_prodkit.__version__,
            },
        )
    return body
