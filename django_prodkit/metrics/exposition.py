"""The Prometheus text exposition format 0.0.4, written from the roll-up totals.

https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django_prodkit.health import Result
from django_prodkit.metrics.histogram import BOUNDS_MS
from django_prodkit.metrics.store import LabelSet, by_label_set

__all__ = ["CONTENT_TYPE", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LE = (*(repr(bound / 1000) for bound in BOUNDS_MS), "+Inf")
_HEALTH_VALUES = {"ok": 1.0, "warn": 0.5, "fail": 0.0}
Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, float | int]

# Counters that come straight from one roll-up metric family: name, help, the metrics'
# prefix, and the label that the rest of the metric's name becomes.
_COUNTERS = (
    (
        "prodkit_slow_queries_total",
        "Queries over the slow threshold, by database alias.",
        "queries.slow.",
        "alias",
    ),
    (
        "prodkit_ratelimit_blocked_total",
        "Requests refused by a rate-limit rule.",
        "ratelimit.blocked.",
        "rule",
    ),
    ("prodkit_errors_total", "Errors captured, by severity.", "errors.", "severity"),
)
_PLAIN = (
    (
        "prodkit_locking_retries_total",
        "Transactions retried by atomic_retry.",
        "locking.retries",
    ),
    (
        "prodkit_locking_retries_exhausted_total",
        "atomic_retry blocks that ran out of attempts.",
        "locking.retries_exhausted",
    ),
)


def render(totals: Mapping[str, int], health: Sequence[Result] | None = None) -> str:
    """The exposition of the running ``totals`` of the roll-up store and of ``health``."""
    lines: list[str] = []
    label_sets = sorted(by_label_set(totals).items())
    _family(
        lines,
        "prodkit_http_requests_total",
        "counter",
        "HTTP requests by route pattern, method and status class.",
        (
            (
                "prodkit_http_requests_total",
                (("route", route), ("method", method), ("status", status)),
                count,
            )
            for (route, method), entry in label_sets
            for status, count in sorted(entry.statuses.items())
        ),
    )
    _family(
        lines,
        "prodkit_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by route pattern and method.",
        (
            sample
            for (route, method), entry in label_sets
            if entry.count
            for sample in _histogram((("route", route), ("method", method)), entry)
        ),
    )
    for name, help_text, prefix, label in _COUNTERS:
        samples = (
            (name, ((label, metric[len(prefix) :]),), value)
            for metric, value in sorted(totals.items())
            if metric.startswith(prefix) and len(metric) > len(prefix)
        )
        _family(lines, name, "counter", help_text, samples)
    for name, help_text, metric in _PLAIN:
        _family(lines, name, "counter", help_text, [(name, (), totals.get(metric, 0))])
    if health is not None:
        ordered = sorted(health, key=lambda result: result.name)
        _family(
            lines,
            "prodkit_health_check_status",
            "gauge",
            "Health check status: 1 ok, 0.5 warn, 0 fail.",
            (
                (
                    "prodkit_health_check_status",
                    (("check", r.name),),
                    _HEALTH_VALUES[r.status],
                )
                for r in ordered
            ),
        )
        _family(
            lines,
            "prodkit_health_check_latency_seconds",
            "gauge",
            "How long the health check took when it last ran.",
            (
                (
                    "prodkit_health_check_latency_seconds",
                    (("check", r.name),),
                    r.latency_ms / 1000,
                )
                for r in ordered
            ),
        )
    return "".join(lines)


def _histogram(labels: Labels, entry: LabelSet) -> Iterable[Sample]:
    name = "prodkit_http_request_duration_seconds"
    cumulative = 0
    for le, count in zip(_LE, entry.buckets, strict=True):
        cumulative += count
        yield f"{name}_bucket", (*labels, ("le", le)), cumulative
    yield f"{name}_sum", labels, entry.duration_us / 1_000_000
    yield f"{name}_count", labels, cumulative


def _family(
    lines: list[str], name: str, kind: str, help_text: str, samples: Iterable[Sample]
) -> None:
    lines.append(f"# HELP {name} {_escape_help(help_text)}\n# TYPE {name} {kind}\n")
    for sample_name, labels, value in samples:
        if labels:
            pairs = ",".join(f'{key}="{_escape_label(text)}"' for key, text in labels)
            lines.append(f"{sample_name}{{{pairs}}} {_number(value)}\n")
        else:
            lines.append(f"{sample_name} {_number(value)}\n")


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")
