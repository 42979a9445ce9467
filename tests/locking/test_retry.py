"""``atomic_retry``: real serialization failures and deadlocks on PostgreSQL, between threads
that each hold their own connection, and the retry rules on any database."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connection,
    transaction,
)

from django_prodkit import rollup
from django_prodkit.exceptions import ConflictError
from django_prodkit.locking.retry import (
    ISOLATION_LEVELS,
    AtomicRetry,
    atomic_retry,
    backoff_delay,
    sqlstate,
)
from tests.locking.models import Note

LOGGER = "django_prodkit.locking"
TABLE = "retry_test_counter"


class Retries:
    """An ``on_retry`` callback that records ``(attempt, SQLSTATE or class, delay)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, float]] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def __call__(self, attempt: int, error: BaseException, delay: float) -> None:
        with self._lock:
            self.calls.append((attempt, sqlstate(error) or type(error).__name__, delay))
            self.errors.append(error)

    @property
    def reasons(self) -> list[tuple[int, str]]:
        return [(attempt, reason) for attempt, reason, _delay in self.calls]


def counted(metric: str) -> int:
    return rollup.total(metric, minutes=2)


def run_in_threads(*targets: Callable[[], object]) -> list[BaseException | None]:
    """Run each target in its own thread, with its own connection; their errors."""
    errors: list[BaseException | None] = [None] * len(targets)

    def run(index: int, target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as error:
            errors[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, target))
        for index, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a worker thread hangs"
    return errors


def fetch(sql: str, params: list[int] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def execute(sql: str, params: list[int] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def values() -> dict[int, int]:
    return dict(fetch(f"SELECT id, value FROM {TABLE} ORDER BY id"))


@pytest.fixture
def counter(transactional_db: None) -> Iterator[None]:
    """A table of two rows ``(1, 0), (2, 0)`` that the test's threads fight over."""
    execute(f"DROP TABLE IF EXISTS {TABLE}")
    execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, value integer NOT NULL)")
    execute(f"INSERT INTO {TABLE} (id, value) VALUES (1, 0), (2, 0)")
    yield
    execute(f"DROP TABLE IF EXISTS {TABLE}")


@pytest.fixture
def ceilings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Every wait is its ceiling: ``random.uniform`` returns its upper bound."""
    drawn: list[tuple[float, float]] = []

    def upper(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", upper)
    return drawn


def retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == LOGGER and "retrying in" in record.getMessage()
    ]


# --- Real concurrency on PostgreSQL -------------------------------------------------


@pytest.mark.postgres
def test_retries_a_real_serialization_failure(counter, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    barrier = threading.Barrier(2, timeout=10)
    calls: Counter[str] = Counter()
    retries = Retries()
    before = counted("locking.retries")

    @atomic_retry(isolation="serializable", base_delay=0.01, on_retry=retries)
    def increment(worker: str) -> None:
        calls[worker] += 1
        ((value,),) = fetch(f"SELECT value FROM {TABLE} WHERE id = 1")
        if calls[worker] == 1:
            barrier.wait()  # Both have read 0 before either writes.
        execute(f"UPDATE {TABLE} SET value = %s WHERE id = 1", [value + 1])

    errors = run_in_threads(lambda: increment("a"), lambda: increment("b"))

    assert errors == [None, None]
    assert values() == {1: 2, 2: 0}
    assert sorted(calls.values()) == [1, 2]
    assert retries.reasons == [(1, "40001")]
    (record,) = retry_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.block.endswith("increment")  # type: ignore[attr-defined]
    assert (record.attempt, record.sqlstate) == (1, "40001")  # type: ignore[attr-defined]
    assert "attempt 1/5 with 40001" in record.getMessage()
    assert counted("locking.retries") == before + 1


@pytest.mark.postgres
def test_retries_a_serialization_failure_raised_by_the_commit(counter):
    # Write skew: each transaction reads both rows and sets its own row only when no row is
    # set. Neither write conflicts with the other; SERIALIZABLE fails the second commit.
    barrier = threading.Barrier(2, timeout=10)
    a_committed = threading.Event()
    calls: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    retries = Retries()

    @atomic_retry(isolation="serializable", base_delay=0.01, on_retry=retries)
    def claim(worker: str, row: int) -> None:
        calls[worker] += 1
        ((total,),) = fetch(f"SELECT sum(value) FROM {TABLE}")
        if total == 0:
            execute(f"UPDATE {TABLE} SET value = 1 WHERE id = %s", [row])
        if calls[worker] == 1:
            barrier.wait()  # Both have read and written.
            if worker == "a":
                transaction.on_commit(a_committed.set)
            else:
                assert a_committed.wait(timeout=10)
        finished[worker] += 1

    errors = run_in_threads(lambda: claim("a", 1), lambda: claim("b", 2))

    assert errors == [None, None]
    assert values() == {1: 1, 2: 0}  # b ran again, saw a's row, and left its own alone.
    assert calls == {"a": 1, "b": 2}
    assert finished == {"a": 1, "b": 2}  # b's first run completed: its commit failed.
    assert retries.reasons == [(1, "40001")]


@pytest.mark.postgres
def test_retries_a_real_deadlock(counter):
    barrier = threading.Barrier(2, timeout=10)
    calls: Counter[str] = Counter()
    retries = Retries()

    @atomic_retry(base_delay=0.01, on_retry=retries)
    def transfer(worker: str, first: int, second: int) -> None:
        calls[worker] += 1
        execute(f"UPDATE {TABLE} SET value = value + 1 WHERE id = %s", [first])
        if calls[worker] == 1:
            barrier.wait()  # Each holds its first row; each now waits for the other's.
        execute(f"UPDATE {TABLE} SET value = value + 1 WHERE id = %s", [second])

    errors = run_in_threads(lambda: transfer("a", 1, 2), lambda: transfer("b", 2, 1))

    assert errors == [None, None]
    assert values() == {1: 2, 2: 2}
    assert sorted(calls.values()) == [1, 2]
    assert retries.reasons == [(1, "40P01")]


def _commit_elsewhere() -> None:
    """Another connection changes row 1 and commits, under the caller's snapshot."""
    sql = f"UPDATE {TABLE} SET value = value + 1 WHERE id = 1"
    assert run_in_threads(lambda: execute(sql)) == [None]


@pytest.mark.postgres
def test_gives_up_after_its_attempts_with_the_last_error(counter, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    calls = 0
    retries = Retries()
    exhausted = counted("locking.retries_exhausted")

    @atomic_retry(
        attempts=3, isolation="repeatable read", base_delay=0.001, on_retry=retries
    )
    def doomed() -> None:
        nonlocal calls
        calls += 1
        fetch(f"SELECT value FROM {TABLE} WHERE id = 1")  # Takes the snapshot.
        _commit_elsewhere()
        execute(f"UPDATE {TABLE} SET value = value + 10 WHERE id = 1")

    with pytest.raises(OperationalError) as info:
        doomed()

    assert sqlstate(info.value) == "40001"
    assert calls == 3
    assert retries.reasons == [(1, "40001"), (2, "40001")]
    assert all(info.value is not error for error in retries.errors)
    assert values() == {1: 3, 2: 0}  # Three changes from elsewhere, none from doomed.
    assert counted("locking.retries_exhausted") == exhausted + 1
    assert "attempt 3/3 with 40001 (OperationalError); giving up after" in (
        caplog.records[-1].getMessage()
    )


@pytest.mark.postgres
def test_gives_up_when_its_time_budget_is_spent(counter, caplog, ceilings):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    calls = 0

    @atomic_retry(
        attempts=100,
        budget=0.25,
        base_delay=0.05,
        max_delay=0.05,
        isolation="serializable",
    )
    def doomed() -> None:
        nonlocal calls
        calls += 1
        fetch(f"SELECT value FROM {TABLE} WHERE id = 1")
        _commit_elsewhere()
        execute(f"UPDATE {TABLE} SET value = value + 10 WHERE id = 1")

    started = time.monotonic()
    with pytest.raises(OperationalError) as info:
        doomed()
    elapsed = time.monotonic() - started

    assert sqlstate(info.value) == "40001"
    assert 2 <= calls <= 5
    assert elapsed < 0.25 + 1.0  # The budget, and the last attempt's own run time.
    assert "the 0.25 s budget is spent" in caplog.records[-1].getMessage()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_error_of_the_commit_that_is_not_retryable_propagates():
    table = "retry_test_deferred"
    execute(
        f"CREATE TABLE {table} (id integer, "
        "CONSTRAINT retry_test_once UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    calls = 0

    @atomic_retry(base_delay=0)
    def twice() -> None:
        nonlocal calls
        calls += 1
        execute(f"INSERT INTO {table} (id) VALUES (1), (1)")  # Checked at the commit.

    try:
        with pytest.raises(IntegrityError) as info:
            twice()
        assert sqlstate(info.value) == "23505"
        assert calls == 1
        assert fetch(f"SELECT count(*) FROM {table}") == [(0,)]
    finally:
        execute(f"DROP TABLE {table}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statement_timeout_cancels_a_slow_statement_without_retrying_it():
    calls = 0

    @atomic_retry(statement_timeout=0.1, base_delay=0)
    def slow() -> None:
        nonlocal calls
        calls += 1
        execute("SELECT pg_sleep(1)")

    started = time.monotonic()
    with pytest.raises(DatabaseError) as info:
        slow()

    assert sqlstate(info.value) == "57014"
    assert calls == 1
    assert time.monotonic() - started < 0.8

    for attempt in atomic_retry(statement_timeout=0.1):
        with attempt:
            inside = fetch("SHOW statement_timeout")
    assert inside == [("100ms",)]
    assert fetch("SHOW statement_timeout") == [("0",)]  # It ended with the commit.


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("isolation", "expected"),
    [(None, "read committed"), *[(i, i) for i in ISOLATION_LEVELS]],
)
def test_isolation_is_set_for_the_block(isolation, expected):
    for attempt in atomic_retry(isolation=isolation):
        with attempt:
            shown = fetch("SHOW transaction_isolation")
    assert shown == [(expected,)]
    assert fetch("SHOW transaction_isolation") == [("read committed",)]


# --- On any database ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_three_forms_run_the_block_in_a_transaction():
    def in_transaction() -> bool:
        return bool(transaction.get_connection().in_atomic_block)

    @atomic_retry
    def bare() -> bool:
        return in_transaction()

    @atomic_retry(attempts=2)
    def called() -> bool:
        return in_transaction()

    for attempt in atomic_retry():
        with attempt:
            looped = in_transaction()

    assert (bare(), called(), looped) == (True, True, True)
    assert bare.__name__ == "bare"
    assert bare.__wrapped__() is False  # type: ignore[attr-defined]
    assert not in_transaction()


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_is_rolled_back_and_the_next_one_committed():
    calls = 0

    for attempt in atomic_retry(retry_on_conflict=True, base_delay=0):
        with attempt:
            calls += 1
            User.objects.create(username=f"attempt-{calls}")
            if calls == 1:
                raise ConflictError(User, 1, 1, 2)

    assert calls == 2
    assert list(User.objects.values_list("username", flat=True)) == ["attempt-2"]


def test_with_statement_is_refused_with_the_loop_form_in_the_message():
    retry = atomic_retry()
    with (
        pytest.raises(TypeError, match=r"for attempt in atomic_retry\(\.\.\.\):"),
        retry,
    ):
        pass  # pragma: no cover


@pytest.mark.django_db(transaction=True)
def test_refuses_to_run_inside_an_outer_atomic_block():
    calls = 0

    @atomic_retry
    def block() -> None:
        nonlocal calls
        calls += 1

    with transaction.atomic():
        with pytest.raises(transaction.TransactionManagementError) as info:
            block()
        attempts = iter(atomic_retry())
        with pytest.raises(transaction.TransactionManagementError):
            next(attempts).__enter__()
    message = str(info.value)
    assert "outermost transaction" in message
    assert "whole transaction, the outer one included" in message
    assert calls == 0
    block()
    assert calls == 1


@pytest.mark.django_db(transaction=True)
def test_refuses_to_run_inside_a_transaction_opened_by_hand():
    transaction.set_autocommit(False)
    try:
        with pytest.raises(transaction.TransactionManagementError, match="outermost"):
            atomic_retry(lambda: None)()
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)


@pytest.mark.django_db
def test_runs_inside_the_transaction_of_a_django_testcase():
    # Like Django's durable blocks, the test's own atomic blocks do not count as outer.
    calls = 0

    @atomic_retry(retry_on_conflict=True, base_delay=0)
    def block() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConflictError(User, 1, 1, 2)
        return "done"

    assert block() == "done"
    assert calls == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("error", ["integrity", "value", "conflict"])
def test_other_errors_pass_through_after_one_attempt(error, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    User.objects.create(username="taken")
    calls = 0

    @atomic_retry(base_delay=0)
    def block() -> None:
        nonlocal calls
        calls += 1
        if error == "integrity":
            User.objects.create(username="taken")
        elif error == "value":
            raise ValueError("not a database error")
        else:
            raise ConflictError(User, 1, 1, 2)  # Retried only with retry_on_conflict.

    expected = {"integrity": IntegrityError, "value": ValueError}
    with pytest.raises(expected.get(error, ConflictError)):
        block()
    assert calls == 1
    assert not [r for r in caplog.records if r.name == LOGGER]


class Psycopg2Error(Exception):
    """What psycopg2 raises: the SQLSTATE is ``pgcode``."""

    pgcode = "40P01"


@pytest.mark.django_db(transaction=True)
def test_retries_by_the_sqlstate_of_the_driver_error_behind_django_error(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    calls = 0

    @atomic_retry(base_delay=0)
    def block() -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OperationalError("deadlock detected") from Psycopg2Error()
        return calls

    assert block() == 3
    assert [(r.attempt, r.sqlstate) for r in retry_records(caplog)] == [  # type: ignore[attr-defined]
        (1, "40P01"),
        (2, "40P01"),
    ]


@pytest.mark.django_db(transaction=True)
def test_retry_on_conflict_reruns_a_block_that_reads_the_row_again():
    note = Note.objects.create(text="first")
    stale = Note.objects.get(pk=note.pk)
    Note.objects.filter(pk=note.pk).update(text="changed elsewhere")
    retries = Retries()
    before = counted("locking.retries")

    for attempt in atomic_retry(retry_on_conflict=True, base_delay=0, on_retry=retries):
        with attempt:
            current = stale if attempt.number == 1 else Note.objects.get(pk=note.pk)
            current.views += 1
            current.save()

    assert retries.reasons == [(1, "ConflictError")]
    assert isinstance(retries.errors[0], ConflictError)
    assert Note.objects.get(pk=note.pk).views == 1
    assert counted("locking.retries") == before + 1


@pytest.mark.django_db(transaction=True)
def test_gives_up_after_its_attempts_on_conflicts(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    raised: list[ConflictError] = []
    exhausted = counted("locking.retries_exhausted")

    @atomic_retry(attempts=3, retry_on_conflict=True, base_delay=0)
    def block() -> None:
        raised.append(ConflictError(User, len(raised), 1, 2))
        raise raised[-1]

    with pytest.raises(ConflictError) as info:
        block()
    assert len(raised) == 3
    assert info.value is raised[-1]
    assert len(retry_records(caplog)) == 2
    assert counted("locking.retries_exhausted") == exhausted + 1


@pytest.mark.django_db(transaction=True)
def test_gives_up_before_a_wait_that_would_end_past_the_budget(ceilings):
    calls = 0

    @atomic_retry(
        attempts=100,
        budget=0.25,
        base_delay=0.1,
        max_delay=0.1,
        retry_on_conflict=True,
    )
    def block() -> None:
        nonlocal calls
        calls += 1
        raise ConflictError(User, 1, 1, 2)

    started = time.monotonic()
    with pytest.raises(ConflictError):
        block()
    # Waits of 0.1 s end at 0.1 and 0.2; a third would end at 0.3, past the budget.
    assert calls == 3
    assert 0.2 <= time.monotonic() - started < 0.5


@pytest.mark.django_db(transaction=True)
def test_waits_grow_from_the_settings_read_at_call_time(settings, ceilings):
    retries = Retries()

    @atomic_retry(retry_on_conflict=True, on_retry=retries)
    def block() -> None:
        raise ConflictError(User, 1, 1, 2)

    settings.PRODKIT = {
        "LOCKING": {
            "RETRY_ATTEMPTS": 5,
            "RETRY_BASE_DELAY": 0.001,
            "RETRY_MAX_DELAY": 0.003,
        }
    }
    with pytest.raises(ConflictError):
        block()
    assert [delay for _attempt, _reason, delay in retries.calls] == [
        0.001,
        0.002,
        0.003,
        0.003,
    ]
    assert ceilings == [(0.0, 0.001), (0.0, 0.002), (0.0, 0.003), (0.0, 0.003)]

    settings.PRODKIT = {"LOCKING": {"RETRY_ATTEMPTS": 2, "RETRY_BASE_DELAY": 0.001}}
    with pytest.raises(ConflictError):
        block()
    assert len(retries.calls) == 4 + 1
    with pytest.raises(ConflictError):
        atomic_retry(attempts=3, retry_on_conflict=True, on_retry=retries)(
            block.__wrapped__  # type: ignore[attr-defined]
        )()
    assert len(retries.calls) == 4 + 1 + 2


@pytest.mark.parametrize("retry", range(1, 12))
def test_backoff_delay_is_full_jitter_under_a_doubling_ceiling(retry):
    ceiling = min(1.0, 0.02 * 2 ** (retry - 1))
    rng = random.Random(retry)
    draws = [backoff_delay(retry, 0.02, 1.0, rng) for _ in range(2000)]
    assert all(0.0 <= draw <= ceiling for draw in draws)
    assert min(draws) < ceiling * 0.05
    assert max(draws) > ceiling * 0.95


def test_backoff_delay_counts_retries_from_one():
    with pytest.raises(ValueError, match="1 or more"):
        backoff_delay(0, 0.02, 1.0)


@pytest.mark.django_db(transaction=True)
def test_isolation_and_statement_timeout_leave_other_databases_alone():
    for attempt in atomic_retry(isolation="serializable", statement_timeout=5):
        with attempt:
            User.objects.create(username="kept")
    assert User.objects.filter(username="kept").exists()


@pytest.mark.django_db(transaction=True)
def test_leaving_the_loop_after_a_swallowed_error_is_logged(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for attempt in atomic_retry(retry_on_conflict=True, base_delay=0):
        with attempt:
            User.objects.create(username="lost")
            raise ConflictError(User, 1, 1, 2)
        break
    del attempt
    assert not User.objects.filter(username="lost").exists()
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        "left the loop after attempt 1 failed with ConflictError" in record.getMessage()
    )


@pytest.mark.django_db(transaction=True)
def test_an_attempt_must_be_entered():
    with pytest.raises(RuntimeError, match="with attempt"):
        for _attempt in atomic_retry():
            pass


@pytest.mark.django_db(transaction=True)
def test_an_attempt_runs_once_and_a_failed_start_closes_its_transaction(monkeypatch):
    for attempt in atomic_retry():
        with attempt:
            assert repr(attempt) == "<Attempt 1/5 of block: running>"
        with pytest.raises(RuntimeError, match="entered only once"):
            attempt.__enter__()

    def broken(self: AtomicRetry, connection: object) -> None:
        raise OperationalError("the connection broke")

    monkeypatch.setattr(AtomicRetry, "prepare", broken)
    with pytest.raises(OperationalError, match="broke"):
        atomic_retry(lambda: None)()
    assert not transaction.get_connection().in_atomic_block


def test_sqlstate_follows_the_cause_chain_and_survives_a_cycle():
    error = OperationalError("deadlock detected")
    error.__cause__ = Psycopg2Error()
    assert sqlstate(error) == "40P01"
    looped = OperationalError("no state")
    looped.__cause__ = looped
    assert sqlstate(looped) is None


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"isolation": "snapshot"},
            ValueError,
            "'serializable', 'repeatable read', 'read committed'",
        ),
        ({"attempts": 0}, ValueError, "attempts must be at least 1"),
        ({"attempts": 2.5}, TypeError, "attempts must be an int"),
        ({"budget": 0}, ValueError, "budget must be more than 0"),
        ({"budget": "1"}, TypeError, "budget must be a number"),
        ({"base_delay": -1}, ValueError, "base_delay must be at least 0"),
        ({"statement_timeout": 0}, ValueError, "statement_timeout must be more than 0"),
        ({"on_retry": "log"}, TypeError, "on_retry must be callable"),
    ],
)
def test_options_are_checked_when_called(options, error, message):
    with pytest.raises(error, match=message):
        atomic_retry(**options)


def test_refuses_to_decorate_what_it_cannot_retry():
    async def coroutine() -> None:  # pragma: no cover
        pass

    with pytest.raises(TypeError, match="sync_to_async"):
        atomic_retry(coroutine)
    with pytest.raises(TypeError, match="decorates a function"):
        AtomicRetry()("default")  # type: ignore[arg-type]
