"""Request metrics: ``MetricsMiddleware``, per-minute roll-ups shared by every instance,
and what they say (``summary``, ``series``, ``routes``); ``/metrics`` serves them to
Prometheus."""

from __future__ import annotations

from django_prodkit.metrics.histogram import BOUNDS_MS, quantile
from django_prodkit.metrics.middleware import MetricsMiddleware
from django_prodkit.metrics.reports import (
    RequestSummary,
    RouteStats,
    SeriesPoint,
    routes,
    series,
    summary,
)

__all__ = [
    "BOUNDS_MS",
    "MetricsMiddleware",
    "RequestSummary",
    "RouteStats",
    "SeriesPoint",
    "quantile",
    "routes",
    "series",
    "summary",
]
