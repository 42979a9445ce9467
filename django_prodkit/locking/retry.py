"""``atomic_retry``: run a block in a transaction, and again when the database gives up on it.

PostgreSQL aborts a transaction with a serialization failure (SQLSTATE 40001) or a deadlock
(40P01) and expects the client to run it again. ``atomic_retry`` does so with exponential
backoff and full jitter, within ``PRODKIT["LOCKING"]``'s attempts and time budget, then
raises the last error. Every retry is logged on ``django_prodkit.locking`` and counted in
the roll-up store (``locking.retries``, ``locking.retries_exhausted``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Literal,
    NoReturn,
    ParamSpec,
    TypedDict,
    TypeVar,
    Unpack,
    overload,
)

from django.db import DatabaseError, transaction

from django_prodkit import conf, rollup
from django_prodkit.exceptions import ConflictError

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["AtomicRetry", "Attempt", "atomic_retry", "backoff_delay", "sqlstate"]

logger = logging.getLogger("django_prodkit.locking")

P = ParamSpec("P")
R = TypeVar("R")

Isolation = Literal["serializable", "repeatable read", "read committed"]
OnRetry = Callable[[int, BaseException, float], object]
Outcome = Literal["pending", "running", "committed", "retry", "failed"]

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
ISOLATION_LEVELS = ("serializable", "repeatable read", "read committed")

OUTER_TRANSACTION = (
    "atomic_retry cannot run inside another transaction. "
    "A serialization failure or a deadlock dooms the whole transaction, the outer one "
    "included: PostgreSQL expects the entire transaction to run again from its start, so "
    "running the block again inside the outer transaction cannot succeed. "
    "Make atomic_retry the outermost transaction: call it outside any transaction.atomic() "
    "block, and mark a view under ATOMIC_REQUESTS with transaction.non_atomic_requests."
)
WITH_FORM = (
    "atomic_retry() cannot be used as `with atomic_retry(...):` because a with block runs "
    "its body only once, so it could not be retried. Loop over the attempts instead:\n\n"
    "    for attempt in atomic_retry(...):\n"
    "        with attempt:\n"
    "            ...\n\n"
    "or decorate a function with @atomic_retry."
)


class RetryOptions(TypedDict, total=False):
    """The keyword arguments of ``atomic_retry``; see ``AtomicRetry``."""

    using: str | None
    attempts: int | None
    budget: float | None
    base_delay: float | None
    max_delay: float | None
    retry_on_conflict: bool
    isolation: Isolation | None
    statement_timeout: float | None
    on_retry: OnRetry | None
    name: str | None


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of ``error`` or of the driver error it wraps (``__cause__``), if any.

    psycopg 3 errors carry it as ``sqlstate``, psycopg2 errors as ``pgcode``.
    """
    current: BaseException | None = error
    for _depth in range(8):  # A chain, not a cycle.
        if current is None:
            break
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(current, attribute, None)
            if isinstance(code, str) and code:
                return code
        current = current.__cause__
    return None


def backoff_delay(
    retry: int, base_delay: float, max_delay: float, rng: random.Random | None = None
) -> float:
    """The wait in seconds before retry number ``retry`` (1 for the first retry).

    The ceiling is ``base_delay`` doubled for every retry after the first, at most
    ``max_delay``; the wait is drawn uniformly between zero and the ceiling (full jitter).
    """
    if retry < 1:
        raise ValueError(f"retry must be 1 or more, not {retry!r}")
    ceiling = min(max_delay, base_delay * 2.0 ** min(retry - 1, 1000))
    return (rng or random).uniform(0.0, ceiling)


def _in_outer_transaction(connection: BaseDatabaseWrapper) -> bool:
    if connection.in_atomic_block:
        # As for durable blocks, a TestCase's own atomic blocks do not count as outer.
        blocks = connection.atomic_blocks
        return not (blocks and getattr(blocks[-1], "_from_testcase", False))
    return not connection.get_autocommit()  # A transaction opened by hand.


def _check(name: str, value: object, minimum: float, strict: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"atomic_retry {name} must be a number, not {value!r}")
    if value < minimum or (strict and value == minimum):
        relation = "more than" if strict else "at least"
        raise ValueError(f"atomic_retry {name} must be {relation} {minimum}: {value!r}")


class _Run:
    """One call: the limits it resolved from the settings, and when it started."""

    def __init__(self, policy: AtomicRetry, name: str) -> None:
        settings = conf.get().locking
        self.policy = policy
        self.name = name
        self.attempts = policy.attempts or settings.retry_attempts
        self.budget = policy.budget or settings.retry_budget
        self.base_delay = settings.retry_base_delay
        if policy.base_delay is not None:
            self.base_delay = policy.base_delay
        self.max_delay = settings.retry_max_delay
        if policy.max_delay is not None:
            self.max_delay = policy.max_delay
        self.started = time.monotonic()

    def decide(self, attempt: Attempt, error: BaseException) -> bool:
        """Whether to run the block again after ``attempt`` failed with ``error``."""
        attempt.error = error
        attempt.outcome = "failed"
        if self.policy.retry_on_conflict and isinstance(error, ConflictError):
            reason = "ConflictError"
        elif (
            isinstance(error, DatabaseError) and sqlstate(error) in RETRYABLE_SQLSTATES
        ):
            reason = str(sqlstate(error))
        else:
            return False
        elapsed = time.monotonic() - self.started
        delay, retry = 0.0, False
        outcome = f"giving up after {elapsed:.3f} s: no attempts left"
        if attempt.number < self.attempts:
            delay = backoff_delay(attempt.number, self.base_delay, self.max_delay)
            retry = elapsed + delay <= self.budget
            outcome = f"retrying in {delay:.3f} s"
            if not retry:
                outcome = f"giving up after {elapsed:.3f} s: the {self.budget:g} s budget is spent"
        logger.warning(
            "atomic_retry: %s failed on attempt %d/%d with %s (%s); %s",
            self.name,
            attempt.number,
            self.attempts,
            reason,
            type(error).__name__,
            outcome,
            extra={
                "block": self.name,
                "attempt": attempt.number,
                "max_attempts": self.attempts,
                "sqlstate": None if reason == "ConflictError" else reason,
                "error": type(error).__name__,
                "elapsed": round(elapsed, 6),
                "delay": round(delay, 6) if retry else None,
            },
        )
        if not retry:
            rollup.add("locking.retries_exhausted")
            return False
        rollup.add("locking.retries")
        if self.policy.on_retry is not None:
            self.policy.on_retry(attempt.number, error, delay)
        attempt.outcome, attempt.delay = "retry", delay
        return True


class Attempt:
    """One run of the block; ``with attempt:`` runs it in ``transaction.atomic``.

    When the block or its commit fails with a retryable error and a retry is left, the
    ``with`` statement swallows the error and the loop goes on to the next attempt after a
    wait; otherwise the error propagates. ``number`` counts from 1.
    """

    def __init__(self, run: _Run, number: int) -> None:
        self.number = number
        self.attempts = run.attempts
        self.outcome: Outcome = "pending"
        self.error: BaseException | None = None
        self.delay = 0.0
        self._run = run
        self._atomic: transaction.Atomic | None = None

    def __repr__(self) -> str:
        return f"<Attempt {self.number}/{self.attempts} of {self._run.name}: {self.outcome}>"

    def __enter__(self) -> Attempt:
        if self.outcome != "pending":
            raise RuntimeError("an atomic_retry attempt can be entered only once")
        using = self._run.policy.using
        connection = transaction.get_connection(using)
        if _in_outer_transaction(connection):
            self.outcome = "failed"
            raise transaction.TransactionManagementError(OUTER_TRANSACTION)
        atomic = transaction.atomic(using=using)
        atomic.__enter__()
        self.outcome = "running"
        try:
            self._run.policy.prepare(connection)
        except BaseException as error:
            self.outcome = "failed"
            atomic.__exit__(type(error), error, error.__traceback__)
            raise
        self._atomic = atomic
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        atomic, self._atomic = self._atomic, None
        assert atomic is not None, "an attempt is left only after it was entered"
        try:
            atomic.__exit__(exc_type, exc, tb)
        except BaseException as error:  # The commit failed, or the rollback did.
            if self._run.decide(self, error):
                return True
            raise
        if exc is None:
            self.outcome = "committed"
            return False
        return self._run.decide(self, exc)


class AtomicRetry:
    """What ``atomic_retry(...)`` returns: a decorator, and an iterable of attempts.

    ``attempts``, ``budget``, ``base_delay`` and ``max_delay`` (seconds) override
    ``PRODKIT["LOCKING"]``, read when the block runs. ``retry_on_conflict`` retries
    ``ConflictError`` too. ``isolation`` and ``statement_timeout`` (seconds) apply on
    PostgreSQL only. ``on_retry(attempt, error, delay)`` is called before each wait. ``name``
    names the block in log records (default: the function's ``__qualname__``, or "block").
    """

    def __init__(
        self,
        *,
        using: str | None = None,
        attempts: int | None = None,
        budget: float | None = None,
        base_delay: float | None = None,
        max_delay: float | None = None,
        retry_on_conflict: bool = False,
        isolation: Isolation | None = None,
        statement_timeout: float | None = None,
        on_retry: OnRetry | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int | None):
            raise TypeError(f"atomic_retry attempts must be an int, not {attempts!r}")
        _check("attempts", attempts, 1)
        _check("budget", budget, 0, strict=True)
        _check("base_delay", base_delay, 0)
        _check("max_delay", max_delay, 0)
        _check("statement_timeout", statement_timeout, 0, strict=True)
        if isolation is not None and isolation not in ISOLATION_LEVELS:
            accepted = ", ".join(repr(level) for level in ISOLATION_LEVELS)
            raise ValueError(
                f"atomic_retry isolation must be one of {accepted}, not {isolation!r}"
            )
        if on_retry is not None and not callable(on_retry):
            raise TypeError(f"atomic_retry on_retry must be callable, not {on_retry!r}")
        self.using = using
        self.attempts = attempts
        self.budget = budget
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retry_on_conflict = retry_on_conflict
        self.isolation = isolation
        self.statement_timeout = statement_timeout
        self.on_retry = on_retry
        self.name = name

    def prepare(self, connection: BaseDatabaseWrapper) -> None:
        """Set the isolation level and statement timeout first thing, on PostgreSQL only."""
        isolation, timeout = self.isolation, self.statement_timeout
        if connection.vendor != "postgresql" or not (isolation or timeout):
            return
        with connection.cursor() as cursor:
            if isolation is not None:
                level = isolation.upper()  # One of ISOLATION_LEVELS.
                cursor.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
            if timeout is not None:
                milliseconds = max(1, round(timeout * 1000))
                cursor.execute(f"SET LOCAL statement_timeout = {milliseconds:d}")

    def attempts_of(self, name: str) -> Iterator[Attempt]:
        """The attempts of one call, named ``name`` in log records."""
        run = _Run(self, name)
        for number in range(1, run.attempts + 1):
            attempt = Attempt(run, number)
            try:
                yield attempt
            except GeneratorExit:
                if attempt.outcome == "retry":
                    logger.error(
                        "atomic_retry: %s left the loop after attempt %d failed with %s "
                        "and was rolled back, so nothing of it was committed; leave "
                        "`with attempt:` without return or break",
                        name,
                        number,
                        type(attempt.error).__name__,
                        extra={"block": name, "attempt": number},
                    )
                raise
            if attempt.outcome == "committed":
                return
            if attempt.outcome != "retry":
                raise RuntimeError(
                    "atomic_retry: every attempt must be used as `with attempt:`"
                )
            time.sleep(attempt.delay)

    def __iter__(self) -> Iterator[Attempt]:
        return self.attempts_of(self.name or "block")

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        if not callable(func):
            raise TypeError(f"atomic_retry decorates a function, not {func!r}")
        if inspect.iscoroutinefunction(func):
            raise TypeError(
                "atomic_retry cannot decorate a coroutine function: Django runs "
                "transactions in sync code. Decorate a sync function and call it with "
                "asgiref.sync.sync_to_async."
            )
        name = self.name or getattr(func, "__qualname__", None) or repr(func)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in self.attempts_of(name):
                with attempt:
                    result = func(*args, **kwargs)
            return result

        return wrapper

    def __enter__(self) -> NoReturn:
        raise TypeError(WITH_FORM)

    def __exit__(self, *exc_info: object) -> None:  # Never reached: __enter__ raises.
        return None  # pragma: no cover


@overload
def atomic_retry(func: Callable[P, R]) -> Callable[P, R]: ...
@overload
def atomic_retry(func: None = None, **options: Unpack[RetryOptions]) -> AtomicRetry: ...
def atomic_retry(
    func: Callable[P, R] | None = None, **options: Unpack[RetryOptions]
) -> Callable[P, R] | AtomicRetry:
    """Run a block in ``transaction.atomic(using)``; retry it on serialization failure or
    deadlock (optionally on ``ConflictError``) with backoff; then raise the last error.

    ``@atomic_retry``, ``@atomic_retry(...)``, or ``for attempt in atomic_retry(...):``
    followed by ``with attempt:``. The options are those of ``AtomicRetry``.
    """
    policy = AtomicRetry(**options)
    if func is None:
        return policy
    return policy(func)
