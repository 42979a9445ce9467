"""Reading back what the middleware recorded."""

from __future__ import annotations

from django_prodkit import rollup
from django_prodkit.metrics.store import by_label_set


def requests() -> dict[tuple[str, str, str], int]:
    """``{(route, method, status class): count}`` from the running totals."""
    return {
        (route, method, status): count
        for (route, method), entry in by_label_set(rollup.totals()).items()
        for status, count in entry.statuses.items()
    }
