"""Retention: remove dead letters older than a maximum age and beyond a maximum count."""

from __future__ import annotations

import datetime as dt

from django.db import router
from django.utils import timezone

from django_prodkit import conf
from django_prodkit.jobs.models import DeadLetter

__all__ = ["BATCH_SIZE", "prune"]

# Rows per DELETE: each batch is its own short statement, so pruning a large backlog
# never holds locks on the table for long.
BATCH_SIZE = 1000


def prune(
    days: int | None = None,
    max_entries: int | None = None,
    *,
    using: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Delete dead letters that failed last more than ``days`` days ago, then all but
    the newest ``max_entries``.

    Retried entries go the same way as dead ones: their audit lasts as long as the
    retention. ``days`` defaults to ``PRODKIT["JOBS"]["RETENTION_DAYS"]``,
    ``max_entries`` to ``JOBS.MAX_ENTRIES`` and ``using`` to ``JOBS.DATABASE`` (or the
    database routers). Rows go in batches of ``batch_size``, each its own DELETE.

    Returns:
        The number of dead letters removed.
    """
    options = conf.get().jobs
    if days is None:
        days = options.retention_days
    if max_entries is None:
        max_entries = options.max_entries
    if days < 1 or max_entries < 0 or batch_size < 1:
        raise ValueError(
            "days and batch_size must be at least 1, max_entries at least 0"
        )
    alias = using or options.database or router.db_for_write(DeadLetter)
    rows = DeadLetter.objects.using(alias)
    cutoff = timezone.now() - dt.timedelta(days=days)
    removed = 0
    expired = rows.filter(last_failed_at__lt=cutoff).order_by()
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        # The condition again: an entry that failed again since the SELECT stays.
        deleted, _ = expired.filter(pk__in=ids).delete()
        removed += deleted
        if len(ids) < batch_size:
            break
    # Newest first; the primary key breaks ties between equal times.
    newest_first = rows.order_by("-last_failed_at", "-pk")
    while ids := list(
        newest_first.values_list("pk", flat=True)[
            max_entries : max_entries + batch_size
        ]
    ):
        deleted, _ = rows.filter(pk__in=ids).delete()
        removed += deleted
        if len(ids) < batch_size:
            break
    return removed
