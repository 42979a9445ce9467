"""Dead letters and request IDs, through a real worker on the run's broker."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from django_prodkit import jobs
from django_prodkit.jobs.models import DeadLetter
from django_prodkit.jobs.writer import writer
from django_prodkit.logs.context import current_request_id
from django_prodkit.scrub import MASK
from tests.dead_services import DATABASES_DOWN, add_alias, remove_alias
from tests.services import BROKER_URL

celery = pytest.importorskip("celery")

from celery import Task  # noqa: E402
from celery.contrib.testing.worker import start_worker  # noqa: E402
from celery.exceptions import Reject  # noqa: E402
from celery.signals import after_task_publish, task_retry  # noqa: E402

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

QUEUE = f"prodkit-jobs-{uuid.uuid4().hex[:8]}"
app = celery.Celery("prodkit-job-tests", broker=BROKER_URL, set_as_current=False)
app.conf.update(
    # A queue of this run's own, so that another run's worker never takes the tasks.
    task_default_queue=QUEUE,
    worker_hijack_root_logger=False,
    task_ignore_result=True,
    accept_content=["json", "pickle"],
)
attempts: dict[str, int] = {}
task_logger = logging.getLogger("tests.jobs.tasks")


class Parcel:
    """An argument that JSON cannot hold (sent with the pickle serializer)."""

    def __init__(self, weight: int) -> None:
        self.weight = weight

    def __repr__(self) -> str:
        return f"Parcel(weight={self.weight})"


@app.task(
    bind=True,
    name="tests.jobs.always_fails",
    autoretry_for=(ValueError,),
    max_retries=2,
    default_retry_delay=0,
)  # type: ignore[untyped-decorator]
def always_fails(self: Task, order_id: int, **kwargs: Any) -> None:
    raise ValueError(f"order {order_id} could not be charged")


@app.task(bind=True, name="tests.jobs.fails_then_works", max_retries=3)  # type: ignore[untyped-decorator]
def fails_then_works(self: Task, key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise self.retry(exc=ConnectionError("gateway busy"), countdown=0)
    return "done"


@app.task(name="tests.jobs.fails_at_once")  # type: ignore[untyped-decorator]
def fails_at_once(*args: Any, **kwargs: Any) -> None:
    raise KeyError("no retry policy")


@app.task(name="tests.jobs.rejects")  # type: ignore[untyped-decorator]
def rejects(order_id: int) -> None:
    raise Reject(ValueError(f"order {order_id} is malformed"), requeue=False)


@app.task(name="tests.jobs.logs_then_fails")  # type: ignore[untyped-decorator]
def logs_then_fails(note: str) -> None:
    task_logger.warning("working on %s", note)
    raise RuntimeError("the view's task failed")


@app.task(name="tests.jobs.works")  # type: ignore[untyped-decorator]
def works(key: str) -> None:
    attempts[key] = attempts.get(key, 0) + 1


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


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the worker did not finish in time")
        time.sleep(0.05)


def stored(task_id: str) -> Callable[[], bool]:
    def check() -> bool:
        jobs.flush()
        return DeadLetter.objects.filter(task_id=task_id).exists()

    return check


@pytest.fixture
def retries() -> Iterator[list[tuple[str, bool]]]:
    """Each retry's task name, and whether a dead letter was pending or stored then."""
    seen: list[tuple[str, bool]] = []

    def count(sender: Any = None, request: Any = None, **kwargs: object) -> None:
        dead = request.id in writer._pending or writer.writes > 0
        seen.append((getattr(sender, "name", ""), dead))

    task_retry.connect(count, weak=False)
    try:
        yield seen
    finally:
        task_retry.disconnect(count)


def test_a_task_that_fails_after_two_retries_is_one_dead_letter(worker, retries):
    token = current_request_id.set("req-before-retries")
    try:
        result = always_fails.delay(42, note="gift")
    finally:
        current_request_id.reset(token)

    wait_for(stored(result.id))
    entry = DeadLetter.objects.get()
    # Two retries, no dead letter during them; then the last failure, recorded once.
    assert retries == [("tests.jobs.always_fails", False)] * 2
    assert (entry.task_name, entry.task_id) == ("tests.jobs.always_fails", result.id)
    assert entry.state == DeadLetter.State.DEAD
    assert entry.outcome == DeadLetter.Outcome.FAILED
    assert entry.attempts == 3
    assert (entry.args, entry.kwargs) == ([42], {"note": "gift"})
    assert (entry.retryable, entry.not_retryable_reason, entry.arguments_repr) == (
        True,
        "",
        "",
    )
    assert entry.exception_type == "ValueError"
    assert entry.message == "order 42 could not be charged"
    assert "raise ValueError" in entry.traceback
    assert (entry.queue, entry.routing_key) == (QUEUE, QUEUE)
    assert entry.exchange in (
        "",
        QUEUE,
    )  # The default exchange, named by the transport.
    assert entry.hostname
    assert entry.root_id == result.id
    assert entry.first_failed_at < entry.last_failed_at
    # The retries' messages carried the request ID on.
    assert entry.request_id == "req-before-retries"


def test_a_task_that_succeeds_on_a_retry_is_no_dead_letter(worker, retries):
    key = uuid.uuid4().hex
    fails_then_works.delay(key)

    wait_for(lambda: attempts.get(key) == 3)
    time.sleep(0.2)  # Let the worker finish the successful run.
    jobs.flush()
    assert [name for name, _ in retries] == ["tests.jobs.fails_then_works"] * 2
    assert not DeadLetter.objects.exists()
    assert writer.writes == 0


def test_a_task_without_retries_is_a_dead_letter_on_its_first_failure(worker):
    result = fails_at_once.delay(7)

    wait_for(stored(result.id))
    entry = DeadLetter.objects.get()
    assert (entry.exception_type, entry.attempts) == ("KeyError", 1)
    assert entry.first_failed_at == entry.last_failed_at


def test_a_rejection_without_requeue_is_a_dead_letter(worker):
    result = rejects.delay(9)

    wait_for(stored(result.id))
    entry = DeadLetter.objects.get()
    assert entry.outcome == DeadLetter.Outcome.REJECTED
    assert (entry.exception_type, entry.message) == (
        "ValueError",
        "order 9 is malformed",
    )
    assert entry.args == [9]
    # The reason was never raised: the traceback is the Reject's, from the task.
    assert "raise Reject(" in entry.traceback


def test_arguments_that_are_not_json_are_kept_as_a_repr_and_not_retryable(worker):
    result = fails_at_once.apply_async(
        args=(Parcel(3),), kwargs={"label": "fragile"}, serializer="pickle"
    )

    wait_for(stored(result.id))
    entry = DeadLetter.objects.get()
    assert (entry.args, entry.kwargs) == (None, None)
    assert entry.arguments_repr == "args=[Parcel(weight=3)] kwargs={'label': 'fragile'}"
    assert entry.retryable is False
    assert entry.not_retryable_reason.startswith("the arguments are not JSON")
    assert "Parcel is not JSON serializable" in entry.not_retryable_reason


def test_secrets_in_arguments_and_messages_are_scrubbed(worker, settings):
    settings.PRODKIT = {"ERRORS": {"SCRUB_FIELDS": ["card"]}}
    result = fails_at_once.delay(
        "postgres://shop:hunter2-db@db.example/shop",
        card="4111-SECRET-CARD",
        password="hunter2-pass",
        note="ok",
    )

    wait_for(stored(result.id))
    entry = DeadLetter.objects.get()
    assert entry.args == [f"postgres://shop:{MASK}@db.example/shop"]
    assert entry.kwargs == {"card": MASK, "password": MASK, "note": "ok"}
    assert entry.retryable is False
    assert "masked" in entry.not_retryable_reason
    for secret in ("hunter2-db", "4111-SECRET-CARD", "hunter2-pass"):
        assert secret not in str(entry.__dict__)


def test_a_secret_in_the_exception_message_is_scrubbed(worker):
    result = always_fails.delay("x", note="n")
    wait_for(stored(result.id))
    entry = DeadLetter.objects.get()
    assert entry.message == "order x could not be charged"

    @app.task(name="tests.jobs.leaks")  # type: ignore[untyped-decorator]
    def leaks() -> None:
        raise ConnectionError("cannot reach redis://:s3cr3t-pw@cache:6379/0")

    # Registered after the worker started: sent and run in this thread, like the worker.
    outcome = leaks.apply()
    assert outcome.failed()
    jobs.flush()
    leaked = DeadLetter.objects.get(task_name="tests.jobs.leaks")
    assert "s3cr3t-pw" not in leaked.message + leaked.traceback
    assert f"redis://:{MASK}@cache" in leaked.message


@pytest.mark.urls("tests.jobs.urls")
def test_the_request_id_goes_from_the_view_into_the_task(worker, client, log_records):
    published: list[dict[str, Any]] = []

    def keep(headers: dict[str, Any] | None = None, **kwargs: object) -> None:
        published.append(dict(headers or {}))

    after_task_publish.connect(keep, weak=False)
    try:
        response = client.post("/enqueue/", headers={"X-Request-ID": "req-abc-123"})
    finally:
        after_task_publish.disconnect(keep)
    assert response.status_code == 202
    task_id = response.json()["task_id"]

    assert published[0][jobs.REQUEST_ID_HEADER] == "req-abc-123"
    wait_for(stored(task_id))
    assert DeadLetter.objects.get().request_id == "req-abc-123"
    [record] = [r for r in log_records if r.name == "tests.jobs.tasks"]
    assert record.getMessage() == "working on from a view"
    assert record.request_id == "req-abc-123"


def test_a_task_enqueued_outside_a_request_has_no_request_id(worker, log_records):
    result = logs_then_fails.delay("from a script")

    wait_for(stored(result.id))
    assert DeadLetter.objects.get().request_id == ""
    [record] = [r for r in log_records if r.name == "tests.jobs.tasks"]
    assert record.request_id == "-"


def test_a_dead_database_leaves_the_worker_running_and_the_dead_letter_logged(
    worker, monkeypatch, settings, django_db_blocker, caplog
):
    engine = "postgres" if connection.vendor == "postgresql" else "sqlite"
    down = DATABASES_DOWN[engine]("jobs")
    add_alias(monkeypatch, settings, django_db_blocker, "jobs_down", down)
    settings.PRODKIT = {"JOBS": {"DATABASE": "jobs_down"}}
    try:
        result = always_fails.delay(5, note="lost?")

        def logged() -> list[logging.LogRecord]:
            jobs.flush()
            return [r for r in caplog.records if hasattr(r, "dead_letter")]

        wait_for(logged)
        [record] = logged()
        assert record.name == "django_prodkit.jobs"
        assert "\n" not in record.getMessage()
        assert record.getMessage().startswith(
            "dead letter not stored (database unavailable): tests.jobs.always_fails"
        )
        fields = record.dead_letter  # type: ignore[attr-defined]
        assert fields["task_id"] == result.id
        assert fields["attempts"] == 3
        assert fields["kwargs"] == {"note": "lost?"}
        assert fields["exception_type"] == "ValueError"
        assert "raise ValueError" in fields["traceback"]

        # The worker is still there: the next task runs.
        key = uuid.uuid4().hex
        works.delay(key)
        wait_for(lambda: attempts.get(key) == 1)
    finally:
        remove_alias("jobs_down")
    assert not DeadLetter.objects.exists()
