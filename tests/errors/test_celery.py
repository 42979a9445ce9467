"""Failed Celery tasks, through a real worker on the run's broker."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from django_prodkit import errors
from django_prodkit.errors.models import ErrorGroup
from tests.services import BROKER_URL

celery = pytest.importorskip("celery")

from celery import Task  # noqa: E402
from celery.contrib.testing.worker import start_worker  # noqa: E402
from celery.signals import task_retry  # noqa: E402

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

app = celery.Celery("prodkit-error-tests", broker=BROKER_URL, set_as_current=False)
app.conf.update(
    # A queue of this run's own, so that another run's worker never takes the tasks.
    task_default_queue=f"prodkit-errors-{uuid.uuid4().hex[:8]}",
    worker_hijack_root_logger=False,
    task_ignore_result=True,
)
attempts: dict[str, int] = {}


@app.task(
    bind=True,
    name="tests.errors.always_fails",
    autoretry_for=(ValueError,),
    max_retries=2,
    default_retry_delay=0,
)  # type: ignore[untyped-decorator]
def always_fails(self: Task, order_id: int, card: str) -> None:
    raise ValueError(f"order {order_id} could not be charged")


@app.task(bind=True, name="tests.errors.fails_then_works", max_retries=3)  # type: ignore[untyped-decorator]
def fails_then_works(self: Task, key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise self.retry(exc=ConnectionError("gateway busy"), countdown=0)
    return "done"


@app.task(name="tests.errors.fails_at_once")  # type: ignore[untyped-decorator]
def fails_at_once() -> None:
    raise KeyError("no retry policy")


@pytest.fixture(scope="module")
def worker(django_db_blocker: Any) -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    try:
        # Celery's Django fix-up closes database connections as the worker starts.
        with (
            django_db_blocker.unblock(),
            start_worker(
                app, pool="solo", perform_ping_check=False, shutdown_timeout=10
            ),
        ):
            yield
    finally:
        root.setLevel(level)  # The worker sets the root logger's level to its own.


@pytest.fixture
def retries() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(sender: object = None, **kwargs: object) -> None:
        seen.append(getattr(sender, "name", ""))

    task_retry.connect(count, weak=False)
    try:
        yield seen
    finally:
        task_retry.disconnect(count)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the worker did not finish in time")
        time.sleep(0.05)


def test_a_task_that_fails_after_its_retries_is_one_occurrence(
    worker, retries, settings
):
    settings.PRODKIT = {"ERRORS": {"SCRUB_FIELDS": ["card"]}}
    always_fails.delay(42, card="4111-SECRET-CARD")

    def stored() -> bool:
        errors.flush()
        return ErrorGroup.objects.exists()

    wait_for(stored)
    group = ErrorGroup.objects.get()
    # Two retries (task_retry), then the last failure: counted once, not three times.
    assert retries.count("tests.errors.always_fails") == 2
    assert group.count == 1
    assert group.source == "task"
    assert group.exception_type == "ValueError"
    assert group.message == "order 42 could not be charged"
    task = group.context["task"]
    assert task["name"] == "tests.errors.always_fails"
    assert task["retries"] == 2
    # "card" is configured as sensitive: masked in the task's kwargs and in locals.
    assert "4111-SECRET-CARD" not in str(group.context)


def test_a_task_that_succeeds_on_a_retry_is_no_error(worker, retries):
    key = uuid.uuid4().hex
    fails_then_works.delay(key)

    wait_for(lambda: attempts.get(key) == 3)
    time.sleep(0.2)  # Let the worker finish the successful run.
    errors.flush()
    assert retries.count("tests.errors.fails_then_works") == 2
    assert not ErrorGroup.objects.exists()


def test_a_task_without_retries_fails_once(worker):
    fails_at_once.delay()

    def stored() -> bool:
        errors.flush()
        return ErrorGroup.objects.exists()

    wait_for(stored)
    group = ErrorGroup.objects.get()
    assert (group.exception_type, group.count) == ("KeyError", 1)
