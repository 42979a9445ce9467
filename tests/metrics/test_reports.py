from __future__ import annotations

import datetime
import time
from collections import Counter

import pytest

from django_prodkit import metrics, rollup
from django_prodkit.metrics.store import record
from django_prodkit.rollup.backends import CacheBackend, Slot


def steady() -> None:
    """Keep a test clear of the end of a minute, so that its counts share one."""
    if time.time() % 60 > 58:
        time.sleep(60 - time.time() % 60 + 0.05)


def test_summary_of_known_samples(store, settings):
    settings.PRODKIT = {
        **settings.PRODKIT,
        "RATELIMIT": {"RULES": [{"NAME": "login", "PATH": "/login/", "RATE": "5/m"}]},
    }
    steady()
    for ms in range(1, 1001):
        record("/notes/<int:pk>/", "GET", "5xx" if ms % 100 == 0 else "2xx", ms / 1000)
    rollup.add("ratelimit.blocked.login", 4)
    rollup.add("ratelimit.blocked.gone", 100)  # No longer a rule: not counted.

    summary = metrics.summary(minutes=10)
    assert (summary.count, summary.errors, summary.rate_limited) == (1000, 10, 4)
    assert summary.error_rate == pytest.approx(0.01)
    assert summary.per_minute == pytest.approx(100)
    assert summary.mean_ms == pytest.approx(500.5)
    assert summary.p50 == pytest.approx(500)
    assert summary.p95 == pytest.approx(950)
    assert summary.p99 == pytest.approx(990)


def test_summary_with_no_requests():
    summary = metrics.summary()
    assert summary == metrics.RequestSummary(
        minutes=1440,
        count=0,
        errors=0,
        error_rate=0.0,
        per_minute=0.0,
        mean_ms=None,
        p50=None,
        p95=None,
        p99=None,
        rate_limited=0,
    )


def test_routes_are_ordered_slowest_first(store):
    steady()
    for _ in range(10):
        record("/fast/", "GET", "2xx", 0.002)
        record("/slow/", "GET", "2xx", 0.4)
        record("/spiky/", "POST", "2xx", 0.001)
    for _ in range(2):
        record("/spiky/", "POST", "5xx", 8.0)

    by_p95 = metrics.routes(minutes=5)
    assert [(r.route, r.method) for r in by_p95] == [
        ("/spiky/", "POST"),
        ("/slow/", "GET"),
        ("/fast/", "GET"),
    ]
    spiky = by_p95[0]
    assert (spiky.count, spiky.errors) == (12, 2)
    assert spiky.error_rate == pytest.approx(2 / 12)
    assert spiky.mean_ms == pytest.approx((10 * 1 + 2 * 8000) / 12)
    assert spiky.p50 == pytest.approx(5 * 6 / 10)

    by_mean = metrics.routes(minutes=5, limit=2, by="mean")
    assert [r.route for r in by_mean] == ["/spiky/", "/slow/"]


def test_series_has_a_point_per_step_including_empty_ones(store):
    steady()
    for _ in range(4):
        record("/a/", "GET", "2xx", 0.03)
    record("/a/", "GET", "5xx", 0.03)

    points = metrics.series(minutes=60, step=5)
    now = int(time.time() // 60)
    assert len(points) in (12, 13)
    assert [p.start for p in points] == sorted(p.start for p in points)
    assert all(p.start.tzinfo is datetime.UTC for p in points)
    assert points[-1].start == datetime.datetime.fromtimestamp(
        now // 5 * 5 * 60, datetime.UTC
    )
    last = points[-1]
    assert (last.count, last.errors) == (5, 1)
    assert last.p50 == pytest.approx(25 + 25 * 0.5)
    assert all((p.count, p.p95) == (0, None) for p in points[:-1])


def test_series_sums_minutes_into_their_step():
    steady()
    now = int(time.time() // 60)
    cache = CacheBackend("rollup")
    slots: Counter[Slot] = Counter(
        {
            ("m", now - 1, "http.requests"): 3,
            ("m", now - 2, "http.requests"): 4,
            ("m", now - 30, "http.requests"): 100,
        }
    )
    cache.write(slots)
    points = metrics.series(minutes=10, step=10)
    assert sum(p.count for p in points) == 7
    assert metrics.series(minutes=31, step=1)[0].count == 100


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="step must be at least 1"):
        metrics.series(step=0)
    with pytest.raises(ValueError, match="minutes must be at least 1"):
        metrics.summary(minutes=0)


def test_a_route_with_no_bucket_counts_is_left_out():
    rollup.add("http.requests|/half-written/|GET|2xx")
    assert metrics.routes(minutes=5) == []
