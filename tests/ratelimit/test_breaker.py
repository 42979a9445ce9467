from __future__ import annotations

import logging
import threading
import time

import pytest

from django_prodkit.breaker import CircuitBreaker, breakers, get_breaker

SECONDS = 0.2


@pytest.fixture(autouse=True)
def _fast_breaker(settings):
    settings.PRODKIT = {"REDIS": {"BREAKER_FAILURES": 3, "BREAKER_SECONDS": SECONDS}}


@pytest.fixture
def breaker():
    return CircuitBreaker("test:backend")


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        breaker.failure(ConnectionError("refused"))


def breaker_logs(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django_prodkit.breaker"]


def test_opens_after_configured_consecutive_failures_not_before(breaker):
    fail(breaker, 2)
    assert (breaker.state, breaker.allow()) == ("closed", True)
    fail(breaker)
    assert (breaker.state, breaker.allow()) == ("open", False)
    assert breaker.last_error == "ConnectionError: refused"


def test_success_resets_the_failure_count(breaker):
    fail(breaker, 2)
    breaker.success()
    fail(breaker, 2)
    assert (breaker.state, breaker.allow()) == ("closed", True)
    fail(breaker)
    assert breaker.state == "open"


def test_open_breaker_refuses_until_its_period_has_passed(breaker):
    fail(breaker, 3)
    assert not breaker.allow()
    time.sleep(SECONDS / 2)
    assert (breaker.state, breaker.allow()) == ("open", False)
    time.sleep(SECONDS / 2 + 0.05)
    assert breaker.state == "half-open"
    assert breaker.allow()


def test_half_open_lets_exactly_one_probe_through_many_threads(breaker):
    fail(breaker, 3)
    time.sleep(SECONDS + 0.05)
    start = threading.Barrier(8)
    answers: list[bool] = []
    lock = threading.Lock()

    def call() -> None:
        start.wait()
        allowed = breaker.allow()
        with lock:
            answers.append(allowed)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 7 + [True]
    # While the probe is out, later callers are still kept away.
    assert not breaker.allow()


def test_failed_probe_keeps_it_open_for_another_period(breaker):
    fail(breaker, 3)
    time.sleep(SECONDS + 0.05)
    assert breaker.allow()
    fail(breaker)
    assert (breaker.state, breaker.allow()) == ("open", False)
    time.sleep(SECONDS + 0.05)
    assert breaker.allow()


def test_successful_probe_closes_it(breaker):
    fail(breaker, 3)
    time.sleep(SECONDS + 0.05)
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed"
    assert all(breaker.allow() for _ in range(5))
    # Closed again means the full count of failures is needed to reopen.
    fail(breaker, 2)
    assert breaker.state == "closed"


def test_hung_probe_frees_its_slot_after_a_period(breaker):
    fail(breaker, 3)
    time.sleep(SECONDS + 0.05)
    assert breaker.allow()
    assert not breaker.allow()
    time.sleep(SECONDS + 0.05)
    assert breaker.allow()


def test_state_changes_are_logged_once_not_per_call(breaker, caplog):
    caplog.set_level(logging.WARNING, logger="django_prodkit.breaker")
    fail(breaker, 10)
    for _ in range(10):
        breaker.allow()
    [opened] = breaker_logs(caplog)
    assert opened.levelno == logging.ERROR
    assert "test:backend failed 3 times in a row" in opened.getMessage()
    assert "ConnectionError: refused" in opened.getMessage()

    caplog.clear()
    time.sleep(SECONDS + 0.05)
    assert breaker.allow()
    fail(breaker)  # A failed probe is no change of state.
    assert breaker_logs(caplog) == []

    time.sleep(SECONDS + 0.05)
    assert breaker.allow()
    for _ in range(10):
        breaker.success()
    [closed] = breaker_logs(caplog)
    assert closed.levelno == logging.WARNING
    assert "test:backend is reachable again" in closed.getMessage()


def test_reset_closes_the_breaker(breaker):
    fail(breaker, 3)
    breaker.reset()
    assert (breaker.state, breaker.allow(), breaker.failures) == ("closed", True, 0)


def test_get_breaker_returns_one_object_per_name():
    first = get_breaker("test:unit-one")
    assert get_breaker("test:unit-one") is first
    assert get_breaker("test:unit-two") is not first
    assert breakers()["test:unit-one"] is first


def test_get_breaker_creates_one_object_under_concurrent_first_use():
    start = threading.Barrier(8)
    found: list[CircuitBreaker] = []

    def call() -> None:
        start.wait()
        found.append(get_breaker("test:unit-race"))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(item) for item in found}) == 1
