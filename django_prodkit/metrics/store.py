"""Request metrics as roll-up fields: what one request adds, and how the fields read back.

Totals for the whole site (what the status page charts) have fixed names, so they are read
with one ``HMGET`` per key:

- ``http.requests``, ``http.errors`` (5xx), ``http.duration_us`` (microseconds);
- ``http.bucket.<le>``: requests per latency bucket, ``le`` in ms or ``inf``.

The fields of a label set start with a fixed name and ``|``:

- ``http.requests|<route>|<method>|<status class>``;
- ``http.duration_us|<route>|<method>``;
- ``http.bucket|<route>|<method>|<le>``.

A route may itself hold ``|`` (a regex), so labelled fields are split from the right.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping

from django_prodkit import rollup
from django_prodkit.metrics.histogram import LABELS, bucket_of

__all__ = ["GLOBAL_FIELDS", "LabelSet", "by_label_set", "record"]

REQUESTS = "http.requests"
ERRORS = "http.errors"
DURATION = "http.duration_us"
BUCKETS = tuple(f"http.bucket.{label}" for label in LABELS)
GLOBAL_FIELDS = (REQUESTS, ERRORS, DURATION, *BUCKETS)
LABELLED_PREFIXES = (f"{REQUESTS}|", f"{DURATION}|", "http.bucket|")

# Requests since the last flush, by (minute, route, method, status class, bucket): a
# request costs one dict update here, and becomes roll-up fields only at the flush.
_Kind = tuple[int, str, str, str, int]
_pending: dict[_Kind, list[int]] = {}
_lock = threading.Lock()


def record(route: str, method: str, status: str, seconds: float) -> None:
    """Count one request of ``route`` and ``method`` that answered ``status`` (``"2xx"``)."""
    micros = int(seconds * 1_000_000)
    kind = (int(time.time() // 60), route, method, status, bucket_of(seconds))
    with _lock:
        entry = _pending.get(kind)
        if entry is None:
            _pending[kind] = [1, micros]
        else:
            entry[0] += 1
            entry[1] += micros
    rollup.tick()


def _drain() -> dict[int, dict[str, int]]:
    """The pending requests as roll-up fields, by minute; ``rollup`` calls it to flush."""
    global _pending
    with _lock:
        taken, _pending = _pending, {}
    fields: dict[int, dict[str, int]] = {}
    for (minute, route, method, status, bucket), (count, micros) in taken.items():
        into = fields.setdefault(minute, {})
        label = BUCKETS[bucket]
        for name, amount in (
            (REQUESTS, count),
            (DURATION, micros),
            (label, count),
            (f"{REQUESTS}|{route}|{method}|{status}", count),
            (f"{DURATION}|{route}|{method}", micros),
            (f"http.bucket|{route}|{method}|{LABELS[bucket]}", count),
            (ERRORS, count if status == "5xx" else 0),
        ):
            into[name] = into.get(name, 0) + amount
    return fields


def _forget_parent_requests() -> None:
    # A forked worker starts empty: its parent writes what it counted itself.
    global _pending, _lock
    _pending, _lock = {}, threading.Lock()


rollup.register_source(_drain)
os.register_at_fork(after_in_child=_forget_parent_requests)


@dataclasses.dataclass(slots=True)
class LabelSet:
    """The counts of one route and method."""

    statuses: dict[str, int] = dataclasses.field(default_factory=dict)
    duration_us: int = 0
    buckets: list[int] = dataclasses.field(default_factory=lambda: [0] * len(LABELS))

    @property
    def count(self) -> int:
        return sum(self.buckets)


_BUCKET_INDEX = {label: index for index, label in enumerate(LABELS)}


def by_label_set(fields: Mapping[str, int]) -> dict[tuple[str, str], LabelSet]:
    """The labelled fields among ``fields``, by ``(route, method)``."""
    found: dict[tuple[str, str], LabelSet] = {}
    for name, value in fields.items():
        kind, bar, rest = name.partition("|")
        if not bar:
            continue
        if kind == DURATION:
            route, _bar, method = rest.rpartition("|")
            found.setdefault((route, method), LabelSet()).duration_us += value
            continue
        route_method, _bar, last = rest.rpartition("|")
        route, _bar, method = route_method.rpartition("|")
        if kind == REQUESTS:
            entry = found.setdefault((route, method), LabelSet())
            entry.statuses[last] = entry.statuses.get(last, 0) + value
        elif kind == "http.bucket" and last in _BUCKET_INDEX:
            found.setdefault((route, method), LabelSet()).buckets[
                _BUCKET_INDEX[last]
            ] += value
    return found
