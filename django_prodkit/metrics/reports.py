"""What the request metrics say over a window: summary, series and slowest routes."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Literal

from django_prodkit import conf, rollup
from django_prodkit.metrics.histogram import quantile
from django_prodkit.metrics.store import (
    BUCKETS,
    DURATION,
    ERRORS,
    GLOBAL_FIELDS,
    LABELLED_PREFIXES,
    REQUESTS,
    by_label_set,
)

__all__ = ["RequestSummary", "RouteStats", "SeriesPoint", "routes", "series", "summary"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestSummary:
    """Every timed request of the last ``minutes`` minutes, all instances.

    Latencies are in milliseconds, ``None`` when there was no request.
    """

    minutes: int
    count: int
    errors: int
    error_rate: float
    per_minute: float
    mean_ms: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    rate_limited: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SeriesPoint:
    """The requests of one step of a series, starting at ``start`` (UTC)."""

    start: datetime.datetime
    count: int
    errors: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RouteStats:
    """The requests of one route pattern and method."""

    route: str
    method: str
    count: int
    errors: int
    error_rate: float
    mean_ms: float | None
    p50: float | None
    p95: float | None
    p99: float | None


def summary(minutes: int = 1440) -> RequestSummary:
    """Count, errors (5xx), rate, mean and p50/p95/p99 latency over ``minutes``.

    ``rate_limited`` sums the requests refused by the ``RATELIMIT`` rules.
    """
    blocked = [f"ratelimit.blocked.{rule.name}" for rule in conf.get().ratelimit.rules]
    found = rollup.window(minutes, names=[*GLOBAL_FIELDS, *blocked])
    count = found.get(REQUESTS, 0)
    errors = found.get(ERRORS, 0)
    buckets = [found.get(name, 0) for name in BUCKETS]
    return RequestSummary(
        minutes=minutes,
        count=count,
        errors=errors,
        error_rate=errors / count if count else 0.0,
        per_minute=count / minutes,
        mean_ms=found.get(DURATION, 0) / count / 1000 if count else None,
        p50=quantile(buckets, 0.5),
        p95=quantile(buckets, 0.95),
        p99=quantile(buckets, 0.99),
        rate_limited=sum(found.get(name, 0) for name in blocked),
    )


def series(minutes: int = 1440, step: int = 5) -> list[SeriesPoint]:
    """One point per ``step`` minutes over the last ``minutes``, oldest first.

    Points start on multiples of ``step`` since the epoch, so that they stay put from one
    call to the next; the first and the last may cover part of a step. Steps without a
    request are included, with a count of 0.
    """
    if step < 1:
        raise ValueError(f"step must be at least 1, not {step}")
    found = rollup.per_minute(minutes, GLOBAL_FIELDS)
    last = int(datetime.datetime.now(datetime.UTC).timestamp() // 60)
    first = last - minutes + 1
    steps: dict[int, dict[str, int]] = {
        start: {} for start in range(first // step * step, last + 1, step)
    }
    for minute, counts in found.items():
        if first <= minute <= last:
            into = steps[minute // step * step]
            for name, value in counts.items():
                into[name] = into.get(name, 0) + value
    return [_point(start, counts) for start, counts in steps.items()]


def _point(start: int, counts: Mapping[str, int]) -> SeriesPoint:
    buckets = [counts.get(name, 0) for name in BUCKETS]
    return SeriesPoint(
        start=datetime.datetime.fromtimestamp(start * 60, datetime.UTC),
        count=counts.get(REQUESTS, 0),
        errors=counts.get(ERRORS, 0),
        p50=quantile(buckets, 0.5),
        p95=quantile(buckets, 0.95),
        p99=quantile(buckets, 0.99),
    )


def routes(
    minutes: int = 1440, limit: int = 10, by: Literal["p95", "mean"] = "p95"
) -> list[RouteStats]:
    """The slowest ``limit`` route patterns and methods over ``minutes``, slowest first.

    ``by`` orders them by p95 latency (ties by mean) or by mean latency (ties by p95).
    """
    found = rollup.window(minutes, prefixes=LABELLED_PREFIXES)
    stats = []
    for (route, method), entry in by_label_set(found).items():
        count = entry.count
        if not count:
            continue
        errors = entry.statuses.get("5xx", 0)
        stats.append(
            RouteStats(
                route=route,
                method=method,
                count=count,
                errors=errors,
                error_rate=errors / count,
                mean_ms=entry.duration_us / count / 1000,
                p50=quantile(entry.buckets, 0.5),
                p95=quantile(entry.buckets, 0.95),
                p99=quantile(entry.buckets, 0.99),
            )
        )

    def slowness(item: RouteStats) -> tuple[float, float]:
        mean, p95 = item.mean_ms or 0.0, item.p95 or 0.0
        return (p95, mean) if by == "p95" else (mean, p95)

    stats.sort(key=slowness, reverse=True)
    return stats[:limit]
