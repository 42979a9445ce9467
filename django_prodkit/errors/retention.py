"""Retention: remove resolved and ignored error groups nobody has seen for a while."""

from __future__ import annotations

import datetime as dt

from django.db import router
from django.db.models import Q
from django.utils import timezone

from django_prodkit import conf
from django_prodkit.errors.models import ErrorGroup

__all__ = ["BATCH_SIZE", "prune"]

# Rows per DELETE: each batch is its own short statement, so pruning a large backlog
# never holds locks on the table for long.
BATCH_SIZE = 1000
_CLOSED = (ErrorGroup.Status.RESOLVED, ErrorGroup.Status.IGNORED)


def prune(
    days: int | None = None,
    *,
    dry_run: bool = False,
    using: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Delete resolved and ignored groups last seen more than ``days`` days ago.

    Unresolved groups are kept whatever their age. ``days`` defaults to
    ``PRODKIT["ERRORS"]["RETENTION_DAYS"]`` and ``using`` to ``ERRORS.DATABASE`` (or
    the database routers). Rows go in batches of ``batch_size``, each its own DELETE.

    Returns:
        The number of groups removed, or with ``dry_run`` the number that would be.
    """
    options = conf.get().errors
    if days is None:
        days = options.retention_days
    if days < 1 or batch_size < 1:
        raise ValueError("days and batch_size must be at least 1")
    alias = using or options.database or router.db_for_write(ErrorGroup)
    cutoff = timezone.now() - dt.timedelta(days=days)
    expired = ErrorGroup.objects.using(alias).filter(_expired(cutoff)).order_by()
    if dry_run:
        return expired.count()
    removed = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        # The condition again: a group that occurred since the SELECT (and so may be
        # unresolved again, or recent) stays.
        deleted, _ = expired.filter(pk__in=ids).delete()
        removed += deleted
        if len(ids) < batch_size:
            break
    return removed


def _expired(cutoff: dt.datetime) -> Q:
    return Q(status__in=_CLOSED, last_seen__lt=cutoff)
