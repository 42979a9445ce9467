"""The writer: bounded writes under a storm, no lost counts, and a database that fails."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from django.test import Client

from django_prodkit import errors
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.errors.writer import writer
from tests.dead_services import DATABASES_DOWN, add_alias, remove_alias

pytestmark = pytest.mark.django_db(transaction=True)


def fail_often(times: int, label: str = "storm") -> None:
    for number in range(times):
        try:
            raise RuntimeError(f"{label} number {number}")
        except RuntimeError:
            errors.capture_exception()


def test_a_storm_of_one_error_costs_a_handful_of_writes():
    fail_often(2000)

    assert errors.flush()
    group = ErrorGroup.objects.get()
    assert group.count == 2000
    # One write for the first occurrence, then at most one per FLUSH_SECONDS (5 s).
    assert writer.writes <= 3


def test_a_storm_through_requests_is_bounded_too():
    client = Client(raise_request_exception=False)
    for _ in range(200):
        assert client.get("/boom/").status_code == 500

    assert errors.flush()
    assert ErrorGroup.objects.get().count == 200
    assert writer.writes <= 3


def test_threads_failing_at_once_lose_no_occurrence():
    threads = [threading.Thread(target=fail_often, args=(500,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors.flush()
    assert ErrorGroup.objects.get().count == 2000


def test_occurrences_after_the_first_write_are_added(settings):
    settings.PRODKIT = {"ERRORS": {"FLUSH_SECONDS": 0.01}}
    for _ in range(5):
        fail_often(10)
        assert errors.flush()

    assert ErrorGroup.objects.get().count == 50


def test_pending_groups_are_bounded(settings, caplog):
    settings.PRODKIT = {"ERRORS": {"MAX_PENDING": 2}}
    # Five groups at once. The writer's first round takes what is pending when its
    # thread wakes (one or two groups, depending on how soon it starts), then pauses
    # for FLUSH_SECONDS; meanwhile at most two more are kept pending and the rest are
    # logged instead of growing without bound. So at least one group is dropped.
    for name in ("A", "B", "C", "D", "E"):
        error_type = type(name, (Exception,), {})
        try:
            raise error_type("x")
        except Exception:
            errors.capture_exception()

    errors.flush()
    assert writer.dropped >= 1
    assert "too many groups pending" in caplog.text
    assert ErrorGroup.objects.count() == 5 - writer.dropped


def test_text_with_nul_is_stored():
    try:
        raise ValueError("bad byte \x00 here")
    except ValueError:
        errors.capture_exception()

    assert errors.flush()
    assert ErrorGroup.objects.get().message == "bad byte \\x00 here"


@pytest.fixture(params=sorted(DATABASES_DOWN))
def database_down(request, settings, monkeypatch, django_db_blocker) -> Iterator[str]:
    alias = "errors_down"
    config = DATABASES_DOWN[request.param]("errors")
    add_alias(monkeypatch, settings, django_db_blocker, alias, config)
    settings.PRODKIT = {"ERRORS": {"DATABASE": alias, "FLUSH_SECONDS": 0.01}}
    try:
        yield alias
    finally:
        remove_alias(alias)


def test_a_database_that_is_down_costs_the_request_nothing(
    database_down, caplog, settings
):
    client = Client(raise_request_exception=False)
    handler = errors.ErrorLogHandler()
    logging.getLogger().addHandler(handler)  # It must not recurse on the writer's logs.
    try:
        for _ in range(5):
            response = client.get("/boom/")
            assert response.status_code == 500
            assert b"Server Error (500)" in response.content  # Django's own page
            errors.flush()
    finally:
        logging.getLogger().removeHandler(handler)

    outage = [r for r in caplog.records if "cannot be stored" in r.getMessage()]
    assert len(outage) == 1  # Logged once, not once per error.
    unstored = [r for r in caplog.records if "not stored" in r.getMessage()]
    assert unstored  # Each group that could not be stored is logged, in full.
    assert sum(r.occurrences for r in unstored) == 5
    assert "RuntimeError" in unstored[0].getMessage()
    assert not ErrorGroup.objects.exists()


def test_groups_are_stored_again_once_the_database_is_back(database_down, settings):
    try:
        raise ValueError("while down")
    except ValueError:
        errors.capture_exception()
    for _ in range(3):
        errors.flush()

    settings.PRODKIT = {"ERRORS": {"FLUSH_SECONDS": 0.01}}  # Back to the default alias.
    from django_prodkit.breaker import breakers

    for breaker in breakers().values():
        breaker.reset()
    try:
        raise ValueError("after")
    except ValueError:
        errors.capture_exception()

    assert errors.flush()
    assert ErrorGroup.objects.get().message == "after"


def test_a_passing_failure_keeps_the_groups_for_the_next_round(settings):
    # A table that is briefly missing: the first round fails, the group waits.
    from django.db import connection

    # The default pause: the failed round's groups wait for the next round (5 s away)
    # or for the next flush.
    table = ErrorGroup._meta.db_table
    with connection.schema_editor() as editor:
        editor.alter_db_table(ErrorGroup, table, f"{table}_away")
    try:
        fail_often(3, "while away")
        assert not errors.flush()  # Failed once: pending, not lost, not logged yet.
    finally:
        with connection.schema_editor() as editor:
            editor.alter_db_table(ErrorGroup, f"{table}_away", table)

    assert errors.flush()
    assert ErrorGroup.objects.get().count == 3
