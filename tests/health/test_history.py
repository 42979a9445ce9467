from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from django_prodkit.health.base import Result
from django_prodkit.health.history import availability, prune, record
from django_prodkit.health.models import HealthCheckRun
from tests.health.helpers import (
    ONLY_CUSTOM,
    failing_check,
    passing_check,
    warning_check,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def only_custom(settings):
    settings.PRODKIT = {"HEALTH": ONLY_CUSTOM}


def runs(name, status, age, count=1):
    created_at = timezone.now() - age
    return [
        HealthCheckRun(
            name=name,
            status=status,
            critical=True,
            latency_ms=1.0,
            created_at=created_at,
        )
        for _ in range(count)
    ]


def test_record_stores_one_row_per_result_sharing_one_round():
    results = [
        Result(name="api", status="ok", latency_ms=1.5, critical=True),
        Result(
            name="queue",
            status="warn",
            latency_ms=20.25,
            critical=False,
            message="queue is 80% full",
        ),
    ]

    record(results)

    rows = HealthCheckRun.objects.order_by("name")
    assert [
        (row.name, row.status, row.latency_ms, row.critical, row.message)
        for row in rows
    ] == [
        ("api", "ok", 1.5, True, ""),
        ("queue", "warn", 20.25, False, "queue is 80% full"),
    ]
    assert len({row.round for row in rows}) == 1


def test_record_gives_each_call_its_own_round():
    result = Result(name="api", status="ok", latency_ms=1.0, critical=True)

    first = record([result])
    second = record([result])

    assert first[0].round != second[0].round
    assert HealthCheckRun.objects.count() == 2


def test_record_without_results_runs_the_registered_checks(only_custom, register):
    register("api", passing_check)
    register("queue", warning_check, critical=False)
    register("payments", failing_check)

    rows = record()

    stored = {
        row.name: (row.status, row.critical, row.message)
        for row in HealthCheckRun.objects.all()
    }
    assert stored == {
        "api": ("ok", True, ""),
        "queue": ("warn", False, "queue is 80% full"),
        "payments": ("fail", True, "payments API did not answer"),
    }
    assert len(rows) == 3


def test_prune_deletes_rows_older_than_history_days(settings):
    settings.PRODKIT = {"HEALTH": {"HISTORY_DAYS": 7}}
    HealthCheckRun.objects.bulk_create(
        runs("api", "ok", dt.timedelta(days=8), count=2)
        + runs("api", "ok", dt.timedelta(days=6))
        + runs("api", "ok", dt.timedelta(minutes=1))
    )

    deleted = prune()

    assert deleted == 2
    ages = sorted(
        timezone.now() - created
        for created in HealthCheckRun.objects.values_list("created_at", flat=True)
    )
    assert len(ages) == 2
    assert ages[-1] < dt.timedelta(days=7)


def test_prune_with_older_than_overrides_history_days():
    HealthCheckRun.objects.bulk_create(
        runs("api", "ok", dt.timedelta(hours=2)) + runs("api", "ok", dt.timedelta(0))
    )

    assert prune(older_than=dt.timedelta(hours=1)) == 1
    assert HealthCheckRun.objects.count() == 1


def test_record_prunes_rows_past_history_days(settings):
    settings.PRODKIT = {"HEALTH": {"HISTORY_DAYS": 1}}
    HealthCheckRun.objects.bulk_create(runs("api", "fail", dt.timedelta(days=2)))

    record([Result(name="api", status="ok", latency_ms=1.0, critical=True)])

    assert list(HealthCheckRun.objects.values_list("status", flat=True)) == ["ok"]


def test_availability_gives_ok_percentages_per_check_in_one_query(
    django_assert_num_queries,
):
    HealthCheckRun.objects.bulk_create(
        # api, last day: 3 of 4 ok; whole week: 5 of 8 ok.
        runs("api", "ok", dt.timedelta(hours=1), count=3)
        + runs("api", "fail", dt.timedelta(hours=23))
        + runs("api", "ok", dt.timedelta(days=3), count=2)
        + runs("api", "fail", dt.timedelta(days=6), count=2)
        # Older than a week: ignored.
        + runs("api", "fail", dt.timedelta(days=8), count=5)
        # queue: nothing in the last day; 1 of 2 ok over the week.
        + runs("queue", "ok", dt.timedelta(days=2))
        + runs("queue", "warn", dt.timedelta(days=2))
        # stale: only runs older than a week.
        + runs("stale", "ok", dt.timedelta(days=10))
    )

    with django_assert_num_queries(1):
        found = availability()

    assert [(a.name, a.last_24h, a.last_7d, a.runs_24h, a.runs_7d) for a in found] == [
        ("api", 75.0, 62.5, 4, 8),
        ("queue", None, 50.0, 0, 2),
    ]


def test_availability_is_empty_without_rows(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert availability() == []


@pytest.mark.django_db(transaction=True)
def test_record_truncates_names_longer_than_the_column(register, settings):
    settings.PRODKIT = {"HEALTH": ONLY_CUSTOM}
    long_name = "disk:/" + "very-long-directory/" * 20
    register(long_name, lambda: None)
    [row] = record()
    assert row.name == long_name[:200]
    assert HealthCheckRun.objects.get().name == long_name[:200]
