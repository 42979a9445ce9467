"""Fixed latency buckets, and percentiles read from bucket counts."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

__all__ = ["BOUNDS_MS", "LABELS", "bucket_of", "quantile"]

# Upper bounds in milliseconds; a last, unbounded bucket follows them.
BOUNDS_MS: tuple[int, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
# Each bucket's name in roll-up fields: its bound in ms, and "inf" for the last one.
LABELS: tuple[str, ...] = (*(f"{bound:g}" for bound in BOUNDS_MS), "inf")
_BOUNDS_SECONDS = tuple(bound / 1000 for bound in BOUNDS_MS)


def bucket_of(seconds: float) -> int:
    """The index of the bucket a duration falls in: the first whose bound is >= it."""
    return bisect.bisect_left(_BOUNDS_SECONDS, seconds)


def quantile(
    counts: Sequence[int], q: float, bounds: Sequence[float] = BOUNDS_MS
) -> float | None:
    """The ``q``-quantile (0 to 1) of a histogram, by Prometheus's ``histogram_quantile``.

    ``counts`` holds one count per bucket (not cumulative), the last one for the values
    above ``bounds[-1]``. The rank ``q * total`` is found in its bucket and interpolated
    linearly between the bucket's bounds, the first bucket starting at 0; a rank in the
    unbounded bucket gives the highest finite bound. ``None`` when there are no counts.
    """
    if not 0 <= q <= 1 or math.isnan(q):
        raise ValueError(f"q must be between 0 and 1, not {q}")
    if len(counts) != len(bounds) + 1:
        raise ValueError(f"expected {len(bounds) + 1} bucket counts, got {len(counts)}")
    observed = sum(counts)
    if observed <= 0:
        return None
    rank = q * observed
    below = 0
    for index, upper in enumerate(bounds):
        count = counts[index]
        # The first bucket that reaches the rank; for q = 0, the first one with a count.
        if count and below + count >= rank:
            lower = bounds[index - 1] if index else 0.0
            return float(lower + (upper - lower) * (rank - below) / count)
        below += count
    return float(bounds[-1])  # The rank is in the unbounded bucket.
