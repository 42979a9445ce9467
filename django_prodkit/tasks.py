"""Celery tasks, found by ``app.autodiscover_tasks()``; needs the ``[celery]`` extra."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from django_prodkit.errors.alerts import send
from django_prodkit.errors.retention import prune
from django_prodkit.health.history import record


@shared_task(name="prodkit.health.record", ignore_result=True)  # type: ignore[untyped-decorator]
def record_health() -> int:
    """Record one round of health checks; schedule it with Celery beat."""
    return len(record())


@shared_task(name="prodkit.errors.send_alert", ignore_result=True)  # type: ignore[untyped-decorator]
def send_alert(payload: dict[str, Any]) -> None:
    """Send one error alert; queued by the errors capability when ``ALERTS.CELERY`` is on."""
    send(payload)


@shared_task(name="prodkit.errors.prune", ignore_result=True)  # type: ignore[untyped-decorator]
def prune_errors() -> int:
    """Remove resolved and ignored error groups older than ``ERRORS.RETENTION_DAYS``."""
    return prune()
