from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from django_prodkit.health import Check, run_checks
from django_prodkit.health.runner import runner
from tests.health.helpers import ONLY_CUSTOM


@pytest.fixture(autouse=True)
def _only_custom(settings):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 5}}


def unique(prefix):
    # Hung checks outlive their test: a fresh name never meets an old worker.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sleeper(seconds, calls=None):
    def check():
        if calls is not None:
            calls.append(1)
        time.sleep(seconds)

    return check


def test_check_sleeping_past_its_timeout_fails_with_timeout_in_time(register):
    slow, fast = unique("slow"), unique("fast")
    register(slow, sleeper(5), timeout=0.3)
    register(fast, lambda: None)
    start = time.monotonic()
    results = {result.name: result for result in run_checks()}
    elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 0.3 + 0.25
    assert results[slow].status == "fail"
    assert results[slow].timed_out is True
    assert results[slow].message == "timed out: no answer within 0.3 s"
    assert results[fast].status == "ok"


def test_endpoint_answers_within_the_largest_timeout(client, register):
    register(unique("hung-a"), sleeper(5), timeout=0.2)
    register(unique("hung-b"), sleeper(5), timeout=0.4, critical=False)
    start = time.monotonic()
    response = client.get("/health/")
    elapsed = time.monotonic() - start
    assert response.status_code == 503
    assert 0.4 <= elapsed < 0.4 + 0.25
    statuses = {c["status"] for c in json.loads(response.content)["checks"].values()}
    assert statuses == {"fail"}


def test_default_timeout_comes_from_settings(settings, register):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "TIMEOUT": 0.2}}
    name = unique("slow")
    register(name, sleeper(5))
    start = time.monotonic()
    [result] = run_checks()
    assert result.timed_out
    assert time.monotonic() - start < 0.45


def test_checks_run_in_parallel(register):
    for _ in range(4):
        register(unique("sleepy"), sleeper(0.3))
    start = time.monotonic()
    results = run_checks()
    assert [result.status for result in results] == ["ok"] * 4
    assert time.monotonic() - start < 0.3 * 2


def test_results_are_kept_for_cache_seconds(register):
    calls = []
    register(unique("counted"), lambda: calls.append(1))
    for _ in range(20):
        run_checks()
    assert len(calls) == 1


def test_results_are_rerun_once_cache_seconds_have_passed(settings, register):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 0.2}}
    calls = []
    register(unique("counted"), lambda: calls.append(1))
    run_checks()
    run_checks()
    time.sleep(0.25)
    run_checks()
    assert len(calls) == 2


def test_cache_seconds_zero_runs_checks_on_every_call(settings, register):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 0}}
    calls = []
    register(unique("counted"), lambda: calls.append(1))
    for _ in range(3):
        run_checks()
    assert len(calls) == 3


def test_use_cache_false_bypasses_kept_results(register):
    calls = []
    register(unique("counted"), lambda: calls.append(1))
    run_checks()
    run_checks(use_cache=False)
    assert len(calls) == 2


def test_concurrent_probes_share_one_run(register):
    calls: list[int] = []
    register(unique("shared"), sleeper(0.3, calls))
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: run_checks(), range(32)))
    assert len(calls) == 1
    assert all(result[0].status == "ok" for result in results)


def test_hung_check_is_not_started_again_and_holds_one_thread(settings, register):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 0}}
    calls: list[int] = []
    release = threading.Event()

    def hung():
        calls.append(1)
        release.wait(10)

    register(unique("hung"), hung, timeout=0.1)
    threads_before = threading.active_count()
    try:
        for _ in range(5):
            [result] = run_checks()
            assert result.timed_out
        assert len(calls) == 1
        assert threading.active_count() <= threads_before + 1
    finally:
        release.set()


def test_timeout_is_kept_so_later_probes_do_not_wait_again(register):
    release = threading.Event()
    register(unique("hung"), lambda: release.wait(10), timeout=0.2)
    try:
        run_checks()
        start = time.monotonic()
        [result] = run_checks()
        assert result.timed_out
        assert time.monotonic() - start < 0.1
    finally:
        release.set()


def test_late_result_of_a_hung_check_replaces_the_timeout(register):
    release = threading.Event()
    register(unique("late"), lambda: release.wait(10), timeout=0.1)
    [first] = run_checks()
    assert first.timed_out
    release.set()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        [result] = run_checks()
        if not result.timed_out:
            break
        time.sleep(0.02)
    assert result.status == "ok"


def test_probes_start_no_thread_once_workers_exist(settings, register, monkeypatch):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 0}}
    register(unique("a"), lambda: None)
    register(unique("b"), lambda: None)
    run_checks()
    before = threading.active_count()
    started = []
    original = threading.Thread.start

    def counting_start(self):
        started.append(self.name)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(10):
        run_checks()
    monkeypatch.undo()
    assert started == []
    assert threading.active_count() == before


def test_async_check_runs_on_the_workers_own_loop(register):
    loops = []

    async def check():
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return {"async": True}

    name = unique("async")
    register(name, check)
    [first] = run_checks(use_cache=False)
    [second] = run_checks(use_cache=False)
    assert first.status == second.status == "ok"
    assert first.details == {"async": True}
    assert loops[0] is loops[1]


def test_async_check_times_out(register):
    async def check():
        await asyncio.sleep(5)

    register(unique("async-slow"), check, timeout=0.2)
    start = time.monotonic()
    [result] = run_checks()
    assert result.timed_out
    assert time.monotonic() - start < 0.45


def test_check_subclass_is_run(register):
    class Constant(Check):
        def run(self):
            return {"answer": 42}

    from django_prodkit import health

    name = unique("subclass")
    health.register(Constant(name=name, critical=False))
    try:
        [result] = run_checks()
    finally:
        health.unregister(name)
    assert (result.status, result.critical, result.details) == (
        "ok",
        False,
        {"answer": 42},
    )


def test_non_mapping_details_are_wrapped(register):
    register(unique("value"), lambda: "fine")
    [result] = run_checks()
    assert result.details == {"value": "fine"}


def test_details_and_messages_are_scrubbed(register):
    register(
        unique("leaky"),
        lambda: {"dsn": "redis://:s3cr3t-pass@cache:6379/0", "password": "hunter2"},
    )
    [result] = run_checks()
    assert "s3cr3t-pass" not in json.dumps(result.details)
    assert result.details["password"] == "********"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)
def test_forked_child_starts_its_own_workers(register):
    name = unique("forked")
    register(name, lambda: None)
    run_checks()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            [result] = run_checks(use_cache=False)
            os.write(write, result.status.encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"ok"
    os.close(read)
    assert runner._workers[name].thread.is_alive()


def test_settings_change_is_never_answered_by_a_check_configured_before(
    settings, register
):
    name = unique("reconfigured")
    release = threading.Event()

    def old():
        release.wait(10)
        return {"configured": "before"}

    register(name, old, timeout=0.1)
    [result] = run_checks()
    assert result.timed_out

    register(name, lambda: {"configured": "after"}, timeout=5)
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 5}}
    threading.Timer(0.1, release.set).start()
    [result] = run_checks()
    assert result.details == {"configured": "after"}


class _FinishedAtOnce:
    """A worker whose check has finished by the time ``submit()`` returns: what a fast
    check on an idle worker thread can do before run() attaches its completion callback."""

    thread = threading.main_thread()

    def submit(self, function):
        future: Future[object] = Future()
        future.set_result(function())
        return future


def test_a_check_finished_before_its_callback_is_attached_neither_hangs_nor_sticks(
    settings, register
):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CACHE_SECONDS": 0}}
    name = unique("instant")
    calls = []
    register(name, lambda: calls.append(1))
    runner._workers[name] = _FinishedAtOnce()  # type: ignore[assignment]
    done = threading.Event()

    def probe_twice():
        run_checks()
        run_checks()
        done.set()

    threading.Thread(target=probe_twice, daemon=True).start()
    assert done.wait(5), "run_checks() hung"
    # Both probes ran the check: the first result did not stay "running" for ever.
    assert len(calls) == 2
    assert name not in runner._running
