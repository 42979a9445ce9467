"""Query monitoring: the slow-query log, per-request query statistics, N+1 detection.

A recorder on every database connection times each query; a slow one is logged, counted
and aggregated by fingerprint into :class:`~django_prodkit.queries.models.SlowQuery` by a
writer thread. :class:`QueriesMiddleware` and :func:`track` count the queries of a
request or a block, report repeated SQL and budgets, and add ``Server-Timing``.
"""

from __future__ import annotations

from django_prodkit.queries.fingerprint import fingerprint, normalise
from django_prodkit.queries.middleware import QueriesMiddleware
from django_prodkit.queries.stats import (
    QueryStats,
    RepeatedQuery,
    get_query_stats,
    track,
)


def flush(timeout: float = 10.0) -> bool:
    """Store every pending slow query now; False when ``timeout`` ran out first.

    For tests, management commands and worker shutdown: a web process needs no call.
    """
    from django_prodkit.queries.writer import writer

    return writer.flush(timeout)


def prune(days: int | None = None, *, using: str | None = None) -> int:
    """Delete the slow queries last seen more than ``days`` days ago (default:
    ``QUERIES.RETENTION_DAYS``); the number deleted. The writer does it hourly."""
    from django_prodkit.queries.retention import prune as prune_rows

    return prune_rows(days, using=using)


__all__ = [
    "QueriesMiddleware",
    "QueryStats",
    "RepeatedQuery",
    "fingerprint",
    "flush",
    "get_query_stats",
    "normalise",
    "prune",
    "track",
]
