"""The recorder: installed once per connection, first, following the settings, and blind
to the kit's own SQL."""

from __future__ import annotations

import logging
import math
import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from django_prodkit import queries
from django_prodkit.queries import recorder as recorder_module
from django_prodkit.queries.models import SlowQuery
from django_prodkit.queries.recorder import QueryRecorder
from django_prodkit.queries.slow import muted
from tests.queries.views import run_slow

pytestmark = pytest.mark.django_db


def recorders(wrapper: BaseDatabaseWrapper = connection) -> list[QueryRecorder]:
    return recorder_module.recorders(wrapper)


def slow_records(caplog):
    return [r for r in caplog.records if r.getMessage().startswith("slow query")]


def test_every_connection_has_one_recorder_first():
    connection.ensure_connection()
    [installed] = recorders()
    assert connection.execute_wrappers[0] is installed.wrapper
    assert installed.alias == "default"
    assert installed.threshold == 0.5


def test_a_reconnection_does_not_install_a_second_recorder():
    connection.ensure_connection()
    for _ in range(2):
        connection_created.send(sender=type(connection), connection=connection)
    assert len(recorders()) == 1


def test_a_connection_opened_inside_an_execute_wrapper_block_keeps_its_recorder():
    found = []

    def passthrough(execute, sql, params, many, context):
        return execute(sql, params, many, context)

    def fresh_thread():
        own = connections["default"]
        try:
            with own.execute_wrapper(passthrough), own.cursor() as cursor:
                cursor.execute("SELECT 1")  # Connects, inside the block.
            found.extend(own.execute_wrappers)
        finally:
            # Django leaves an in-memory SQLite connection open on close(); this thread's
            # own one must really be closed (the database lives on in the main thread's).
            BaseDatabaseWrapper.close(own)

    thread = threading.Thread(target=fresh_thread)
    thread.start()
    thread.join()
    assert [recorder_module.recorder_of(w) is not None for w in found] == [True]


def test_thresholds_follow_the_settings(settings):
    connection.ensure_connection()
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 20, "ALIAS_SLOW_MS": {"default": 5}}}
    assert recorders()[0].threshold == pytest.approx(0.005)
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 20}}
    assert recorders()[0].threshold == pytest.approx(0.02)


def test_an_alias_left_out_or_a_disabled_capability_loses_its_recorder(settings):
    connection.ensure_connection()
    settings.PRODKIT = {"QUERIES": {"ALIASES": ["other"]}}
    assert recorders() == []
    settings.PRODKIT = {"QUERIES": {"ENABLED": False}}
    assert recorders() == []
    settings.PRODKIT = {}
    [recorder] = recorders()
    assert recorder.threshold != math.inf


def test_a_fast_query_outside_a_request_leaves_no_trace(caplog):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert slow_records(caplog) == []
    assert queries.get_query_stats() is None


def test_a_slow_query_outside_a_request_is_logged_without_route(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "STORE": False}}
    run_slow()
    [record] = slow_records(caplog)
    assert record.alias == "default"
    assert record.route is None
    assert record.duration_ms >= 40


def test_muted_sql_is_not_recorded(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "STORE": False}}
    token = muted.set(True)
    try:
        run_slow()
    finally:
        muted.reset(token)
    assert slow_records(caplog) == []


@pytest.mark.django_db(transaction=True)
def test_the_writer_never_records_its_own_sql(settings):
    # Every query is slow here, the writer's too: were they recorded, each flush would
    # leave more behind.
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 0.001, "LOG_SLOW": False}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert queries.flush()
    assert queries.flush()
    tables = SlowQuery.objects.values_list("sql", flat=True)
    assert "SELECT ?" in tables
    assert not [sql for sql in tables if "prodkit_slowquery" in sql]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_query_cancelled_by_statement_timeout_is_slow_too(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 100, "STORE": False}}

    def cancelled():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 150")
            cursor.execute("SELECT pg_sleep(2)")

    with pytest.raises(DatabaseError):
        cancelled()
    [record] = slow_records(caplog)
    assert 100 <= record.duration_ms < 1500
    assert record.sql == "SELECT pg_sleep(?)"


def test_a_failing_log_handler_never_breaks_the_query(settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "STORE": False}}

    class Broken(logging.Handler):
        def emit(self, record):
            raise RuntimeError("handler down")

        def handleError(self, record):
            raise RuntimeError("handler down")

    logger = logging.getLogger("django_prodkit.queries")
    broken = Broken(level=logging.WARNING)
    broken.addFilter(lambda record: record.getMessage().startswith("slow query"))
    logger.addHandler(broken)
    try:
        run_slow()  # Returns normally.
    finally:
        logger.removeHandler(broken)
    assert "recording a slow query failed" in caplog.text
