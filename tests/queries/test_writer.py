"""The writer: counts added across rounds and instances, a database that is down, pruning."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from django_prodkit import queries
from django_prodkit.queries.models import SlowQuery
from django_prodkit.queries.writer import writer

pytestmark = pytest.mark.django_db(transaction=True)


def add(key="a" * 32, ms=50.0, **fields):
    writer.add("default", key, "SELECT ?", ms, **fields)


def test_counts_and_totals_are_added_and_the_max_kept():
    add(ms=50.0, route="a/", request_id="r1")
    add(ms=80.0, route="b/", request_id="r2")
    assert queries.flush()
    add(ms=60.0, route="c/", request_id="r3")
    assert queries.flush()

    row = SlowQuery.objects.get()
    assert (row.count, row.total_ms, row.max_ms) == (3, 190.0, 80.0)
    assert (row.last_route, row.last_request_id) == ("c/", "r3")
    assert row.first_seen < row.last_seen


def test_a_row_written_by_another_instance_is_added_to():
    now = timezone.now()
    SlowQuery.objects.create(
        alias="default",
        fingerprint="a" * 32,
        sql="SELECT ?",
        count=5,
        total_ms=500.0,
        max_ms=120.0,
        first_seen=now - dt.timedelta(days=1),
        last_seen=now - dt.timedelta(days=1),
    )
    add(ms=70.0)
    assert queries.flush()

    row = SlowQuery.objects.get()
    assert (row.count, row.total_ms, row.max_ms) == (6, 570.0, 120.0)
    assert row.first_seen < now - dt.timedelta(hours=23)


def test_one_row_per_alias_and_fingerprint():
    writer.add("default", "a" * 32, "SELECT ?", 50.0)
    writer.add("other", "a" * 32, "SELECT ?", 50.0)
    writer.add("default", "b" * 32, "SELECT ? FROM t", 50.0)
    assert queries.flush()
    assert SlowQuery.objects.count() == 3


def test_old_fingerprints_are_pruned_by_the_writer_and_by_hand(settings):
    old = timezone.now() - dt.timedelta(days=31)
    SlowQuery.objects.create(
        alias="default", fingerprint="o" * 32, sql="old", first_seen=old, last_seen=old
    )
    SlowQuery.objects.create(
        alias="default", fingerprint="n" * 32, sql="recent", last_seen=timezone.now()
    )
    writer._pruned_at = float("-inf")  # An hour has passed.
    add()
    assert queries.flush()
    assert set(SlowQuery.objects.values_list("sql", flat=True)) == {
        "recent",
        "SELECT ?",
    }

    assert queries.prune(days=1) == 0
    SlowQuery.objects.filter(sql="recent").update(
        last_seen=timezone.now() - dt.timedelta(days=2)
    )
    assert queries.prune(days=1) == 1
    with pytest.raises(ValueError, match="at least 1"):
        queries.prune(days=0)


def test_a_database_that_is_down_costs_the_request_nothing(
    database_down, settings, with_middleware, caplog
):
    settings.PRODKIT = {
        "QUERIES": {"SLOW_MS": 40, "DATABASE": database_down, "FLUSH_SECONDS": 0.01}
    }
    client = Client()
    for _ in range(4):
        assert client.get("/slow/").status_code == 200
        queries.flush()

    outage = [r for r in caplog.records if "cannot be stored" in r.getMessage()]
    assert len(outage) == 1  # Logged once, not once per slow query.
    assert outage[0].levelname == "ERROR"
    # Every slow query was logged all the same.
    assert (
        len([r for r in caplog.records if r.getMessage().startswith("slow query:")])
        == 4
    )
    assert writer.dropped >= 3
    assert not SlowQuery.objects.exists()
