"""track(): the same statistics for a task, a command or a script as for a request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection

from django_prodkit import queries
from django_prodkit.queries import QueryStats, get_query_stats, track
from tests.queries.views import look_up_each, run_slow

pytestmark = pytest.mark.django_db


def test_a_block_counts_its_queries():
    with track("export") as stats:
        assert get_query_stats() is stats
        User.objects.exists()
        User.objects.count()
    assert get_query_stats() is None
    assert stats.count == 2
    assert stats.db_ms > 0
    assert stats.total_ms >= stats.db_ms
    assert stats.app_ms == pytest.approx(stats.total_ms - stats.db_ms)
    assert stats.route == "export"
    assert repr(stats).startswith("<QueryStats 2 queries")


def test_a_repeated_query_is_reported_when_the_block_ends(caplog):
    with track("nightly") as stats:
        look_up_each(15)
        [repeat] = stats.repeated
        assert repeat.count == 15
        assert caplog.records == []  # Not while it runs.
    [record] = caplog.records
    assert record.count == 15
    assert record.route == "nightly"
    assert record.function == "look_up_each"
    assert repeat.call_site.endswith(f"views.py:{repeat.line}")
    assert "nightly" in record.getMessage()


def test_reporting_can_be_left_to_the_caller(caplog):
    with track(report=False) as stats:
        look_up_each(15)
    assert len(stats.repeated) == 1
    assert caplog.records == []


def test_a_nested_block_counts_in_the_outer_one():
    with track("outer") as outer:
        User.objects.exists()
        with track("inner") as inner:
            User.objects.exists()
            User.objects.exists()
        assert get_query_stats() is outer
    assert (outer.count, inner.count) == (3, 2)
    assert outer.db_seconds >= inner.db_seconds


def test_slow_queries_in_a_block_carry_its_name(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "STORE": False}}
    with track("reports.rebuild") as stats:
        run_slow()
    [record] = [r for r in caplog.records if r.getMessage().startswith("slow query")]
    assert record.route == "reports.rebuild"
    assert stats.slow == 1


def test_a_disabled_capability_tracks_nothing(settings):
    settings.PRODKIT = {"QUERIES": {"ENABLED": False}}
    with track() as stats:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert get_query_stats() is None
    assert isinstance(stats, QueryStats)
    assert stats.count == 0


def test_distinct_sql_is_counted_up_to_a_bound(monkeypatch):
    from django_prodkit.queries import stats as stats_module

    monkeypatch.setattr(stats_module, "_MAX_DISTINCT", 3)
    with track() as stats:
        for number in range(6):
            stats.record(f"SELECT {number}", 0.001)
    assert stats.count == 6
    assert len(stats._by_sql) == 3


def test_flush_with_nothing_pending_returns_at_once():
    assert queries.flush(timeout=0.01)
