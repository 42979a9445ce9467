"""Run checks in parallel, each with its own deadline, and share results for a few seconds.

Each check has one long-lived worker thread of its own, started on first use. A probe hands
the due checks to their workers and waits for each until its deadline, so the endpoint
answers within the largest timeout however a dependency behaves. A check still running from
an earlier probe is waited on, not started again (single flight), so a hung dependency
holds one thread, not one per probe. Results are kept per process for
``HEALTH.CACHE_SECONDS``: a storm of probes costs one round of checks per interval.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from queue import SimpleQueue
from typing import Any

from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver

from django_prodkit import scrub
from django_prodkit.exceptions import ServiceUnavailable, ServiceWarning
from django_prodkit.health.base import Check, Result, Status

logger = logging.getLogger("django_prodkit.health")

# Settings that change which checks run or how.
RESET_ON = frozenset(
    {"PRODKIT", "DATABASES", "CACHES", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"}
)


class _Worker:
    """One daemon thread that runs one check at a time, with its own event loop."""

    def __init__(self, name: str) -> None:
        self._queue: SimpleQueue[tuple[Future[Result], Callable[[], Result]]] = (
            SimpleQueue()
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(
            target=self._serve, name=f"prodkit-health[{name}]", daemon=True
        )
        self.thread.start()

    def submit(self, function: Callable[[], Result]) -> Future[Result]:
        future: Future[Result] = Future()
        self._queue.put((future, function))
        return future

    def run_async(self, awaitable: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(awaitable)

    def _serve(self) -> None:
        while True:
            future, function = self._queue.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as exc:  # pragma: no cover - _execute catches all
                    future.set_exception(exc)


class Runner:
    """The per-process state: workers, results in flight and results kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}
        self._running: dict[str, tuple[Future[Result], float]] = {}
        self._kept: dict[str, tuple[Result, float]] = {}
        self._generation = 0

    def reset(self) -> None:
        """Forget kept and running results: the next probe starts afresh.

        Called when the settings change, so that no probe is answered from a check
        configured the old way (a check still running finishes, unseen).
        """
        with self._lock:
            self._generation += 1
            self._kept.clear()
            self._running.clear()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._workers.clear()
        self._running.clear()
        self._kept.clear()

    def run(
        self, checks: Iterable[Check], *, default_timeout: float, max_age: float
    ) -> list[Result]:
        """Results for ``checks`` in their order, none older than ``max_age`` seconds."""
        now = time.monotonic()
        order: list[str] = []
        results: dict[str, Result] = {}
        waiting: list[tuple[float, Check, Future[Result], float]] = []
        started: list[tuple[Future[Result], Callable[[Future[Result]], None]]] = []
        with self._lock:
            for check in checks:
                order.append(check.name)
                kept = self._kept.get(check.name) if max_age > 0 else None
                if kept is not None and kept[1] > now:
                    results[check.name] = kept[0]
                    continue
                timeout = check.timeout or default_timeout
                running = self._running.get(check.name)
                if running is None:
                    future, finished = self._start(check, max_age)
                    running = self._running[check.name] = (future, now)
                    started.append((future, finished))
                future, since = running
                waiting.append((since + timeout, check, future, timeout))
        # Outside the lock and after _running holds the future: a check finished already
        # runs its callback at once, in this thread, and the callback takes the lock.
        for future, finished in started:
            future.add_done_callback(finished)
        for deadline, check, future, timeout in sorted(
            waiting, key=lambda item: item[0]
        ):
            try:
                results[check.name] = future.result(
                    max(0.0, deadline - time.monotonic())
                )
            except FutureTimeout:
                results[check.name] = self._timed_out(check, timeout, max_age)
        return [results[name] for name in order]

    def _start(
        self, check: Check, max_age: float
    ) -> tuple[Future[Result], Callable[[Future[Result]], None]]:
        worker = self._workers.get(check.name)
        if worker is None or not worker.thread.is_alive():
            worker = self._workers[check.name] = _Worker(check.name)
        future = worker.submit(lambda: _execute(check, worker))
        generation = self._generation

        def finished(done: Future[Result]) -> None:
            with self._lock:
                if self._running.get(check.name, (None,))[0] is done:
                    del self._running[check.name]
                if max_age > 0 and generation == self._generation:
                    self._kept[check.name] = (done.result(), time.monotonic() + max_age)

        return future, finished

    def _timed_out(self, check: Check, timeout: float, max_age: float) -> Result:
        result = Result(
            name=check.name,
            status="fail",
            latency_ms=timeout * 1000,
            critical=check.critical,
            message=f"timed out: no answer within {timeout:g} s",
            timed_out=True,
        )
        if max_age > 0:
            with self._lock:
                if check.name in self._running:  # Not finished meanwhile.
                    self._kept[check.name] = (result, time.monotonic() + max_age)
        return result


def _execute(check: Check, worker: _Worker) -> Result:
    status: Status = "ok"
    message = ""
    details: object = None
    _release_connections()
    start = time.perf_counter()
    try:
        outcome = check.run()
        if asyncio.iscoroutine(outcome):
            outcome = worker.run_async(outcome)
        details = outcome
    except ServiceWarning as exc:
        status, message, details = "warn", exc.message, exc.details
    except ServiceUnavailable as exc:
        status, message, details = "fail", exc.message, exc.details
    except Exception as exc:
        status, message = "fail", f"{type(exc).__name__}: {exc}"
        logger.warning("Health check %s raised", check.name, exc_info=True)
    latency = time.perf_counter() - start
    _release_connections()
    return Result(
        name=check.name,
        status=status,
        latency_ms=latency * 1000,
        critical=check.critical,
        message=scrub.scrub_text(message),
        details=_as_details(scrub.scrub_value(details)),
    )


def _as_details(value: object) -> dict[str, object]:
    if isinstance(value, dict):
        return value
    return {} if value is None else {"value": value}


def _release_connections() -> None:
    """Drop this thread's broken or expired database connections (Django does it per
    request; worker threads see no requests). With ``CONN_MAX_AGE = 0`` that closes the
    connection after each check, as a request would; persistent ones are kept and reused.
    """
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


runner = Runner()
os.register_at_fork(after_in_child=runner._after_fork)


@receiver(setting_changed, dispatch_uid="django_prodkit.health.runner")
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting in RESET_ON:
        runner.reset()
