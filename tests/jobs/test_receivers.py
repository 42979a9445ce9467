"""The receivers and the writer, called directly: no worker, no broker."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import types
from typing import Any

import pytest
from django.utils import timezone

from django_prodkit import jobs
from django_prodkit.jobs import failures
from django_prodkit.jobs.models import DeadLetter
from django_prodkit.logs.context import current_request_id
from django_prodkit.scrub import MASK

pytest.importorskip("celery")

from celery.exceptions import Reject

from django_prodkit.jobs import receivers
from django_prodkit.jobs.writer import writer


def fake_task(name: str = "shop.charge", **request: Any) -> Any:
    defaults: dict[str, Any] = {
        "args": (1,),
        "kwargs": {},
        "retries": 0,
        "delivery_info": {"exchange": "", "routing_key": "celery"},
        "hostname": "celery@test",
        "parent_id": None,
        "root_id": None,
    }
    return types.SimpleNamespace(
        name=name, request=types.SimpleNamespace(**{**defaults, **request})
    )


def failed(task: Any, task_id: str, error: BaseException) -> None:
    receivers.task_failed(
        sender=task,
        task_id=task_id,
        exception=error,
        args=task.request.args,
        kwargs=task.request.kwargs,
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((1, "a"), {"b": [2]}, ([1, "a"], {"b": [2]}, "", "")),
        ((), {"token": "x"}, ([], {"token": MASK}, "", "masked")),
        ((float("nan"),), {}, (None, None, "args=[nan] kwargs={}", "not JSON")),
        (("a\x00b",), {}, (None, None, "args=['a\\x00b'] kwargs={}", "NUL")),
        (({1, 2},), {}, (None, None, "args=[{1, 2}] kwargs={}", "not JSON")),
    ],
)
def test_arguments(args, kwargs, expected):
    stored_args, stored_kwargs, shown, reason = failures.arguments(args, kwargs)
    assert (stored_args, stored_kwargs, shown) == expected[:3]
    assert (expected[3] in reason) if expected[3] else reason == ""


def test_the_request_id_goes_into_the_headers_of_a_message():
    headers: dict[str, Any] = {"id": "t1"}
    receivers.task_publishing(headers=headers)
    assert jobs.REQUEST_ID_HEADER not in headers

    token = current_request_id.set("req-1")
    try:
        receivers.task_publishing(headers=headers)
        receivers.task_publishing(headers={})  # An empty message still works.
        kept = {jobs.REQUEST_ID_HEADER: "req-0"}
        receivers.task_publishing(headers=kept)
    finally:
        current_request_id.reset(token)
    assert headers[jobs.REQUEST_ID_HEADER] == "req-1"
    assert kept[jobs.REQUEST_ID_HEADER] == "req-0"  # A retry keeps its own.


def test_the_task_has_the_request_id_for_its_duration_only():
    outer = current_request_id.set("outer")
    try:
        task = fake_task(prodkit_request_id="inner")
        receivers.task_starting(task_id="t1", task=task)
        assert current_request_id.get() == "inner"
        receivers.task_finished(task_id="t1", state="SUCCESS", retval=None)
        assert current_request_id.get() == "outer"

        # An invalid ID (it could forge a log line) is not taken.
        receivers.task_starting(task_id="t2", task=fake_task(prodkit_request_id="a b"))
        assert current_request_id.get() == "outer"
        receivers.task_finished(task_id="t2", state="SUCCESS", retval=None)
    finally:
        current_request_id.reset(outer)
    assert receivers._running == {}


def test_a_task_enqueued_by_a_task_carries_the_request_id_on():
    receivers.task_starting(task_id="parent", task=fake_task(prodkit_request_id="r-9"))
    try:
        headers: dict[str, Any] = {"id": "child"}
        receivers.task_publishing(headers=headers)
    finally:
        receivers.task_finished(task_id="parent", state="SUCCESS", retval=None)
    assert headers[jobs.REQUEST_ID_HEADER] == "r-9"


def test_a_retry_carries_the_first_failure_time_on():
    first = "2026-01-02T03:04:05+00:00"
    task = fake_task(prodkit_first_failed_at=first)
    receivers.task_starting(task_id="t1", task=task)
    try:
        retry: dict[str, Any] = {"id": "t1", "retries": 2}
        other: dict[str, Any] = {"id": "t2", "retries": 0}
        receivers.task_publishing(headers=retry)
        receivers.task_publishing(headers=other)
    finally:
        receivers.task_finished(task_id="t1", state="RETRY", retval=None)
    assert retry[receivers.FIRST_FAILURE_HEADER] == first
    assert receivers.FIRST_FAILURE_HEADER not in other


def test_a_receiver_never_raises(caplog):
    class Broken:
        name = "shop.broken"

        @property
        def request(self) -> Any:
            raise RuntimeError("no request")

    receivers._failures.clear()
    failed_task = Broken()
    receivers.task_failed(sender=failed_task, task_id="t1", exception=ValueError("x"))
    receivers.task_failed(sender=failed_task, task_id="t2", exception=ValueError("x"))
    receivers.task_starting(task_id="t3", task=failed_task)
    receivers.task_publishing(headers=None)

    warnings = [r for r in caplog.records if r.name == "django_prodkit.jobs"]
    assert len(warnings) == 1  # Once per kind of failure and minute.
    assert "dead-letter recording failed: RuntimeError" in warnings[0].getMessage()
    receivers.task_finished(task_id="t3", state="SUCCESS", retval=None)


@pytest.mark.django_db(transaction=True)
def test_a_second_failure_of_one_task_id_updates_its_dead_letter():
    task = fake_task(args=(7,))
    failed(task, "t1", ValueError("first"))
    jobs.flush()
    first = DeadLetter.objects.get()

    task.request.retries = 4
    failed(task, "t1", ValueError("second"))
    jobs.flush()
    entry = DeadLetter.objects.get()
    assert (entry.message, entry.attempts) == ("second", 5)
    assert entry.first_failed_at == first.first_failed_at
    assert entry.last_failed_at > first.last_failed_at
    assert entry.queue == ""  # No queue of that name in a task without an app.


@pytest.mark.django_db(transaction=True)
def test_a_rejection_with_requeue_is_no_dead_letter():
    task = fake_task()
    for task_id, requeue in (("kept", True), ("dropped", False)):
        receivers.task_starting(task_id=task_id, task=task)
        receivers.task_finished(
            sender=task,
            task_id=task_id,
            state="REJECTED",
            retval=Reject("malformed", requeue=requeue),
            args=(1,),
            kwargs={},
        )
    # Celery 5.7's task_failure for the same rejection is skipped.
    failed(task, "dropped", Reject("malformed", requeue=False))
    jobs.flush()
    entry = DeadLetter.objects.get()
    assert (entry.task_id, entry.outcome) == ("dropped", "rejected")
    assert entry.exception_type == "celery.exceptions.Reject"


@pytest.mark.django_db(transaction=True)
def test_nothing_is_recorded_when_the_capability_is_off(settings):
    settings.PRODKIT = {"JOBS": {"ENABLED": False}}
    failed(fake_task(), "t1", ValueError("x"))
    jobs.flush()
    assert not DeadLetter.objects.exists()


def test_too_many_pending_dead_letters_are_logged_instead(
    settings, caplog, monkeypatch
):
    settings.PRODKIT = {"JOBS": {"MAX_PENDING": 1, "FLUSH_SECONDS": 60}}
    caplog.set_level(logging.ERROR, "django_prodkit.jobs")
    # Nothing wakes the writer thread: the held entry stays pending.
    monkeypatch.setattr(writer, "_wake", threading.Event())
    with writer._lock:  # Keep the writer from taking the first one meanwhile.
        writer._pending["held"] = writer._pending.get("held") or _a_failure("held")
    try:
        failed(fake_task(), "t2", ValueError("overflow"))
    finally:
        with writer._lock:
            writer._pending.pop("held", None)
    [record] = [r for r in caplog.records if hasattr(r, "dead_letter")]
    assert record.getMessage().startswith(
        "dead letter not stored (too many dead letters pending): shop.charge[t2]"
    )
    assert writer.dropped == 1


def _a_failure(task_id: str) -> Any:
    from django_prodkit.jobs.writer import Failure

    now = timezone.now() - dt.timedelta(seconds=1)
    return Failure(
        task_name="shop.held",
        task_id=task_id,
        outcome="failed",
        queue="",
        routing_key="",
        exchange="",
        args=[],
        kwargs={},
        arguments_repr="",
        retryable=True,
        not_retryable_reason="",
        exception_type="ValueError",
        message="",
        traceback="",
        attempts=1,
        first_failed_at=now,
        last_failed_at=now,
        hostname="",
        parent_id="",
        root_id="",
        request_id="",
    )


def test_a_stopping_worker_process_logs_what_it_could_not_store(caplog, monkeypatch):
    caplog.set_level(logging.ERROR, "django_prodkit.jobs")
    monkeypatch.setattr(writer, "_wake", threading.Event())
    monkeypatch.setattr(writer, "flush", lambda timeout=10.0: False)
    with writer._lock:
        writer._pending["late"] = _a_failure("late")

    receivers.worker_stopping()

    [record] = [r for r in caplog.records if hasattr(r, "dead_letter")]
    assert record.getMessage().startswith(
        "dead letter not stored (the worker process is stopping): shop.held[late]"
    )
    assert writer._pending == {}
