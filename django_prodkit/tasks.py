"""Celery tasks, found by ``app.autodiscover_tasks()``; needs the ``[celery]`` extra."""

from __future__ import annotations

from celery import shared_task

from django_prodkit.health.history import record


@shared_task(name="prodkit.health.record", ignore_result=True)  # type: ignore[untyped-decorator]
def record_health() -> int:
    """Record one round of health checks; schedule it with Celery beat."""
    return len(record())
