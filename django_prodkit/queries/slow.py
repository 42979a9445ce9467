"""What happens to a slow query: one log line, one roll-up count, one entry for the writer.

It runs after the query returned (or failed: a query cancelled by ``statement_timeout``
is slow too), on the query's thread, and touches no database: the writer thread stores
the aggregate later through its own connection. Parameters go nowhere but, for an
``EXPLAIN`` of a new slowest sample, to the writer's queue, which drops them once used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django_prodkit import conf, rollup
from django_prodkit.logs import get_request_id
from django_prodkit.queries.explain import is_explainable
from django_prodkit.queries.fingerprint import fingerprint, normalise

if TYPE_CHECKING:
    from django_prodkit.queries.stats import QueryStats

__all__ = ["muted", "record_slow"]

logger = logging.getLogger("django_prodkit.queries")

# True while the kit handles a slow query and in the writer thread: SQL run there (a log
# handler that writes to a database, the writer's own statements) is never recorded.
muted: ContextVar[bool] = ContextVar("prodkit_queries_muted", default=False)
_failed_at = -60.0


def record_slow(
    alias: str,
    vendor: str,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] | None,
    many: bool,
    seconds: float,
    stats: QueryStats | None,
) -> None:
    """Log, count and queue one slow query; never raises."""
    if muted.get():
        return
    token = muted.set(True)
    try:
        _record(alias, vendor, sql, params, many, seconds, stats)
    except Exception:
        _failed()
    finally:
        muted.reset(token)


def _record(
    alias: str,
    vendor: str,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] | None,
    many: bool,
    seconds: float,
    stats: QueryStats | None,
) -> None:
    options = conf.get().queries
    normalised = normalise(sql)
    key = fingerprint(normalised)
    duration_ms = seconds * 1000
    route = stats.route if stats is not None else None
    request_id = get_request_id()
    if stats is not None:
        stats.slow += 1
    if options.log_slow:
        logger.warning(
            "slow query: %.1f ms on %r: %s",
            duration_ms,
            alias,
            normalised,
            extra={
                "duration_ms": round(duration_ms, 3),
                "alias": alias,
                "sql": normalised,
                "fingerprint": key,
                "route": route,
                "request_id": request_id,
            },
        )
    rollup.add(f"queries.slow.{alias}")
    if not options.store:
        return
    from django_prodkit.queries.writer import writer

    explain = (
        options.explain
        and not many
        and vendor == "postgresql"
        and is_explainable(normalised)
    )
    writer.add(
        alias,
        key,
        normalised,
        duration_ms,
        route=route or "",
        request_id=request_id or "",
        sample=(sql, params) if explain else None,
    )


def _failed() -> None:
    # Logged at most once a minute: a broken log handler must not flood the logs.
    global _failed_at
    now = time.monotonic()
    if now - _failed_at >= 60.0:
        _failed_at = now
        logger.exception("recording a slow query failed")
