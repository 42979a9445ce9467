"""Slow queries: logged with their duration, aggregated by fingerprint, stored by the
writer outside the user's transaction, and never with a parameter value."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from django_prodkit import queries, rollup
from django_prodkit.logs import JSONFormatter
from django_prodkit.queries.models import SlowQuery
from tests.queries.conftest import key_of
from tests.queries.views import run_slow

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "s3cr3t-7f1d2e-do-not-store"


def slow_records(caplog):
    return [r for r in caplog.records if r.getMessage().startswith("slow query")]


@pytest.fixture
def slow_settings(settings):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40}}


@pytest.mark.postgres
def test_pg_sleep_is_recorded_with_its_duration(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 200}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.3)")

    [record] = slow_records(caplog)
    assert 300 <= record.duration_ms < 1500
    assert record.sql == "SELECT pg_sleep(?)"
    assert record.alias == "default"
    assert record.fingerprint == key_of("SELECT pg_sleep(0.3)")
    assert queries.flush()
    row = SlowQuery.objects.get(fingerprint=record.fingerprint)
    assert (row.alias, row.sql, row.count) == ("default", "SELECT pg_sleep(?)", 1)
    assert row.max_ms == pytest.approx(record.duration_ms, abs=0.01)
    assert row.total_ms == pytest.approx(record.duration_ms, abs=0.01)


def test_a_slow_query_is_logged_and_stored(slow_settings, caplog):
    sql = run_slow()

    [record] = slow_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.name == "django_prodkit.queries"
    assert record.duration_ms >= 40
    assert record.fingerprint == key_of(sql)
    assert queries.flush()
    row = SlowQuery.objects.get(fingerprint=key_of(sql))
    assert row.count == 1
    assert row.max_ms == pytest.approx(record.duration_ms, abs=0.01)
    assert row.first_seen == row.last_seen


def test_executions_with_other_values_add_up_in_one_row(slow_settings):
    sql = run_slow("first")
    run_slow("second", seconds=0.1)
    assert queries.flush()
    run_slow("third")
    assert queries.flush()

    row = SlowQuery.objects.get(fingerprint=key_of(sql))
    assert row.count == 3
    assert row.max_ms <= row.total_ms
    assert row.total_ms >= 3 * 40
    assert row.mean_ms == pytest.approx(row.total_ms / 3)
    assert row.last_seen > row.first_seen


def test_parameters_are_never_stored_or_logged(slow_settings, caplog, settings):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "EXPLAIN": True}}
    formatter = JSONFormatter()
    run_slow(SECRET)
    with connection.cursor() as cursor:  # A literal in the SQL itself.
        cursor.execute(
            f"SELECT count(*), '{SECRET}' FROM ({_slow_subquery()}) AS s "
            f"WHERE '{SECRET}' <> %s",
            ["x"],
        )
    assert queries.flush()

    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert len(slow_records(caplog)) == 2
    assert SECRET not in logged
    assert SECRET not in caplog.text
    stored = json.dumps(list(SlowQuery.objects.values()), default=str)
    assert SlowQuery.objects.count() == 2
    assert SECRET not in stored


def test_the_roll_up_counts_slow_queries_per_alias(slow_settings):
    before = rollup.total("queries.slow.default", 2)
    run_slow()
    run_slow()
    assert rollup.total("queries.slow.default", 2) == before + 2


def test_log_and_store_can_be_turned_off(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "LOG_SLOW": False, "STORE": False}}
    run_slow()
    assert queries.flush()
    assert slow_records(caplog) == []
    assert not SlowQuery.objects.exists()


def test_an_alias_threshold_overrides_the_default(settings, caplog):
    settings.PRODKIT = {
        "QUERIES": {"SLOW_MS": 40, "ALIAS_SLOW_MS": {"default": 60_000}, "STORE": False}
    }
    run_slow()
    assert slow_records(caplog) == []


def fail_after_a_slow_query(flush_inside: bool) -> str:
    with transaction.atomic():
        User.objects.create_user("rolled-back")
        sql = run_slow()
        if flush_inside:
            # The writer stores while the transaction is still open: on its own
            # connection.
            assert queries.flush()
        raise RuntimeError(sql)


@pytest.mark.postgres
def test_nothing_is_written_inside_a_failing_user_transaction(slow_settings):
    with pytest.raises(RuntimeError) as failure:
        fail_after_a_slow_query(flush_inside=True)

    assert not User.objects.filter(username="rolled-back").exists()
    assert SlowQuery.objects.get(fingerprint=key_of(str(failure.value))).count == 1


def test_a_slow_query_inside_a_rolled_back_block_is_still_stored(slow_settings):
    # SQLite too: there the writer waits for the user's transaction to end.
    with pytest.raises(RuntimeError) as failure:
        fail_after_a_slow_query(flush_inside=False)

    assert queries.flush()
    assert not User.objects.filter(username="rolled-back").exists()
    assert SlowQuery.objects.get(fingerprint=key_of(str(failure.value))).count == 1


def test_pending_fingerprints_are_bounded(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "MAX_PENDING": 1, "LOG_SLOW": False}}
    from django_prodkit.queries.writer import writer

    with transaction.atomic():  # The writer cannot store before the block ends.
        for number in range(3):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT count(*) AS n{number} FROM ({_slow_subquery()}) AS s"
                )
    assert queries.flush()
    assert writer.dropped >= 1
    assert SlowQuery.objects.count() == 3 - writer.dropped
    assert (
        len([r for r in caplog.records if "slow-query fingerprints" in r.getMessage()])
        == 1
    )


def _slow_subquery() -> str:
    if connection.vendor == "postgresql":
        return "SELECT pg_sleep(0.05)"
    return (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 150000) SELECT x FROM c"
    )
