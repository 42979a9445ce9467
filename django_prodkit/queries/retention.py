"""Retention: forget slow-query fingerprints nobody has seen for a while."""

from __future__ import annotations

import datetime as dt

from django.db import router
from django.utils import timezone

from django_prodkit import conf
from django_prodkit.queries.models import SlowQuery

__all__ = ["prune"]


def prune(days: int | None = None, *, using: str | None = None) -> int:
    """Delete the fingerprints last seen more than ``days`` days ago; how many went.

    ``days`` defaults to ``PRODKIT["QUERIES"]["RETENTION_DAYS"]`` and ``using`` to
    ``QUERIES.DATABASE`` (or the database routers). The writer calls it once an hour.
    """
    options = conf.get().queries
    if days is None:
        days = options.retention_days
    if days < 1:
        raise ValueError("days must be at least 1")
    alias = using or options.database or router.db_for_write(SlowQuery)
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted, _ = SlowQuery.objects.using(alias).filter(last_seen__lt=cutoff).delete()
    return deleted
