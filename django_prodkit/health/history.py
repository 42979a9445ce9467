"""Recorded runs: record, prune, and availability computed in the database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from django.db.models import Count, Q
from django.utils import timezone

from django_prodkit import conf
from django_prodkit.health.base import Result
from django_prodkit.health.models import HealthCheckRun
from django_prodkit.health.service import run_checks

NAME_LENGTH = HealthCheckRun._meta.get_field("name").max_length or 200


@dataclasses.dataclass(frozen=True, slots=True)
class Availability:
    """Share of ``ok`` runs of one check; ``None`` where nothing was recorded."""

    name: str
    last_24h: float | None
    last_7d: float | None
    runs_24h: int
    runs_7d: int


def record(
    results: list[Result] | None = None, *, using: str = "default"
) -> list[HealthCheckRun]:
    """Run every check now (no cached results) and store one row per check.

    Rows older than ``HEALTH.HISTORY_DAYS`` are pruned at the same time. This is what
    ``prodkit_health --record`` and the ``prodkit.health.record`` Celery task call.
    """
    if results is None:
        results = run_checks(use_cache=False)
    now = timezone.now()
    round_id = uuid.uuid4()
    rows = [
        HealthCheckRun(
            round=round_id,
            name=result.name[:NAME_LENGTH],
            status=result.status,
            critical=result.critical,
            latency_ms=result.latency_ms,
            message=result.message,
            created_at=now,
        )
        for result in results
    ]
    created = HealthCheckRun.objects.using(using).bulk_create(rows)
    prune(using=using)
    return created


def prune(*, older_than: dt.timedelta | None = None, using: str = "default") -> int:
    """Delete runs older than ``older_than`` (default ``HEALTH.HISTORY_DAYS``)."""
    if older_than is None:
        older_than = dt.timedelta(days=conf.get().health.history_days)
    cutoff = timezone.now() - older_than
    deleted, _ = (
        HealthCheckRun.objects.using(using).filter(created_at__lt=cutoff).delete()
    )
    return deleted


def availability(*, using: str = "default") -> list[Availability]:
    """Per check, the percentage of ``ok`` runs over 24 hours and 7 days (one query)."""
    now = timezone.now()
    day = Q(created_at__gte=now - dt.timedelta(days=1))
    ok = Q(status=HealthCheckRun.Status.OK)
    rows = (
        HealthCheckRun.objects.using(using)
        .filter(created_at__gte=now - dt.timedelta(days=7))
        .values("name")
        .annotate(
            runs_7d=Count("pk"),
            ok_7d=Count("pk", filter=ok),
            runs_24h=Count("pk", filter=day),
            ok_24h=Count("pk", filter=day & ok),
        )
        .order_by("name")
    )
    return [
        Availability(
            name=row["name"],
            last_24h=_percent(row["ok_24h"], row["runs_24h"]),
            last_7d=_percent(row["ok_7d"], row["runs_7d"]),
            runs_24h=row["runs_24h"],
            runs_7d=row["runs_7d"],
        )
        for row in rows
    ]


def _percent(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 2) if whole else None
