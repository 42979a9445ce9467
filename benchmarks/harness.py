"""Call Django's WSGIHandler in process: environ, handlers per case, interleaved timing.

Every case gets its own ``WSGIHandler``, built while the case's ``MIDDLEWARE`` (and other
settings) are in force, because a handler loads its middleware once, at construction. The
cases are then visited in turn, ``visit`` requests at a time, so that all of them share the
machine's fast and slow phases; each request is timed on its own. A case may instead time
an ``operation`` (a model save, say), with the same visits, rounds and statistics.
"""

from __future__ import annotations

import gc
import io
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

from benchmarks import project


class Response(NamedTuple):
    status: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Send = Callable[[], Response]
Operation = Callable[[], object]


@dataclass(frozen=True, kw_only=True)
class Case:
    """One configuration to time: a middleware list plus what else it needs."""

    key: str
    label: str
    middleware: Sequence[str] = ()
    # In force while the handler is built and during each visit (e.g. PRODKIT, which
    # prodkit reads per request through its cached conf.get()).
    settings: Mapping[str, object] = field(default_factory=dict)
    # Extra environ entries, e.g. {"HTTP_X_REQUEST_ID": "..."}.
    environ: Mapping[str, str] = field(default_factory=dict)
    # Entered around each visit, outside the timed requests.
    context: Callable[[], AbstractContextManager[None]] | None = None
    # Called once before and once after timing with a function that sends one request
    # (or, for an ``operation`` case, with the operation); raises AssertionError when the
    # case is not what its label says.
    verify: Callable[[Any], None] | None = None
    # The body every response must have; None when ``verify`` checks it instead.
    body: bytes | None = project.BODY
    # The share of each visit (and so of the round's requests) this case gets: a slow
    # peer visited for fewer requests stays interleaved without dominating the run time.
    share: float = 1.0
    # Timed instead of a request when set: no handler is built and ``body`` is not
    # checked; ``verify`` gets the operation.
    operation: Operation | None = None

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError(f"case ({self.key}): share must be in (0, 1]")

    def visit_size(self, count: int) -> int:
        """How many of a visit's ``count`` requests this case sends."""
        return count if self.share == 1 else max(1, round(count * self.share))


class RoundStats(NamedTuple):
    p50_us: float
    mean_us: float


@dataclass(frozen=True, kw_only=True)
class Benchmark:
    name: str
    title: str
    baseline: str  # key of the case the deltas and ratios are taken against
    installed_apps: Sequence[str] = ()
    settings: Mapping[str, object] = field(
        default_factory=dict
    )  # before django.setup()
    distributions: Sequence[str] = ()  # versions printed in the header
    build: Callable[[], list[Case]]  # called after django.setup()
    # Requests (or operations) per case per round when --requests is not given, when
    # lower than run.py's default: for cases that cost several requests each.
    requests: int | None = None
    # Called after timing with the cases and their per-round statistics; returns text
    # printed after the benchmark's table and data added to its --json entry.
    extra: (
        Callable[
            [Sequence[Case], Mapping[str, list[RoundStats]]],
            tuple[str, dict[str, object]],
        ]
        | None
    ) = None
    # Why the benchmark cannot run here (e.g. a service it needs is unreachable), found
    # when its module is imported; run.py then reports it as skipped and runs the others.
    skip: str | None = None


@dataclass
class _Prepared:
    case: Case
    handler: WSGIHandler | None  # None for an operation case
    environ: dict[str, object]


def base_environ(extra: Mapping[str, str] | None = None) -> dict[str, object]:
    """A minimal WSGI environ for ``GET /json/`` asking for JSON; copy it per request."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": project.PATH,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": project.HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": project.HOST,
        "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **(extra or {}),
    }


def _discard(data: bytes) -> None:
    pass


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: object = None
) -> Callable[[bytes], None]:
    return _discard


def _prepare(case: Case) -> _Prepared:
    if case.operation is not None:
        return _Prepared(case, None, {})
    with override_settings(MIDDLEWARE=list(case.middleware), **case.settings):
        handler = WSGIHandler()
    return _Prepared(case, handler, base_environ(case.environ))


@contextmanager
def _visiting(prepared: _Prepared) -> Iterator[None]:
    with ExitStack() as stack:
        # Every case's visits run under override_settings, even with nothing to override,
        # so that all of them pay the same settings-cache refill on their first request.
        stack.enter_context(override_settings(**prepared.case.settings))
        if prepared.case.context is not None:
            stack.enter_context(prepared.case.context())
        yield


def _send(prepared: _Prepared) -> Response:
    captured: list[object] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], None]:
        captured[:] = [status, {name.lower(): value for name, value in headers}]
        return _discard

    environ = dict(prepared.environ, **{"wsgi.input": io.BytesIO()})
    assert prepared.handler is not None
    response = prepared.handler(environ, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()
    status, headers = captured
    return Response(status, headers, body)  # type: ignore[arg-type]


def _verify(prepared: _Prepared) -> None:
    with _visiting(prepared):
        if prepared.case.operation is not None:
            if prepared.case.verify is not None:
                prepared.case.verify(prepared.case.operation)
            return
        response = _send(prepared)
        where = f"case ({prepared.case.key})"
        assert response.status.startswith("200"), f"{where}: {response.status}"
        if prepared.case.body is not None:
            assert response.body == prepared.case.body, f"{where}: {response.body!r}"
        if prepared.case.verify is not None:
            prepared.case.verify(lambda: _send(prepared))


def _time_operation(operation: Operation, count: int, samples: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(count):
        started = clock()
        operation()
        samples.append(clock() - started)


def _time_visit(prepared: _Prepared, count: int, samples: list[int]) -> None:
    if prepared.case.operation is not None:
        _time_operation(prepared.case.operation, count, samples)
        return
    handler, base = prepared.handler, prepared.environ
    assert handler is not None
    clock = time.perf_counter_ns
    for _ in range(count):
        # A fresh environ each time, built outside the timed part: WSGIRequest writes to it.
        environ = base.copy()
        environ["wsgi.input"] = io.BytesIO()
        started = clock()
        response = handler(environ, _start_response)
        for _chunk in response:
            pass
        response.close()  # sends request_finished
        samples.append(clock() - started)


def _visit(prepared: _Prepared, count: int, samples: list[int], *, gc_on: bool) -> None:
    # No case pays for garbage another one left behind.
    gc.collect()
    with _visiting(prepared):
        if not gc_on:
            gc.disable()
        try:
            _time_visit(prepared, count, samples)
        finally:
            gc.enable()


def calibrate() -> float:
    """Milliseconds per 10⁶ iterations of an empty loop: how fast the machine is right now."""
    started = time.perf_counter_ns()
    for _ in range(1_000_000):
        pass
    return (time.perf_counter_ns() - started) / 1e6


def run(
    benchmark: Benchmark,
    cases: Sequence[Case],
    *,
    rounds: int,
    requests: int,
    visit: int,
    gc_on: bool,
    progress: Callable[[str], None],
) -> dict[str, list[RoundStats]]:
    """Time ``cases`` (built by ``benchmark.build()``); return each one's per-round statistics."""
    prepared = [_prepare(case) for case in cases]
    for item in prepared:
        _verify(item)
    # Long-lived objects (Django, the handlers) leave the collector's view, as in a
    # preloaded production worker, so collections only walk per-request garbage.
    gc.collect()
    gc.freeze()
    for item in prepared:  # warm-up, not recorded
        _visit(item, item.case.visit_size(visit), [], gc_on=gc_on)
    results: dict[str, list[RoundStats]] = {item.case.key: [] for item in prepared}
    for round_number in range(rounds):
        started = time.monotonic()
        samples: dict[str, list[int]] = {item.case.key: [] for item in prepared}
        done = 0
        cycle = 0
        while done < requests:
            count = min(visit, requests - done)
            # Rotate the order so that no case always follows the same neighbour.
            shift = cycle % len(prepared)
            for item in prepared[shift:] + prepared[:shift]:
                _visit(
                    item,
                    item.case.visit_size(count),
                    samples[item.case.key],
                    gc_on=gc_on,
                )
            done += count
            cycle += 1
        for key, values in samples.items():
            results[key].append(
                RoundStats(
                    statistics.median(values) / 1e3, statistics.fmean(values) / 1e3
                )
            )
        progress(
            f"{benchmark.name}: round {round_number + 1}/{rounds} "
            f"in {time.monotonic() - started:.1f} s"
        )
    for item in prepared:  # the cases must still be what they were at the start
        _verify(item)
    gc.unfreeze()
    return results
