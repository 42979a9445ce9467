"""Request IDs: prodkit's RequestIDMiddleware against bare Django and two peers.

All request-ID middleware goes first in MIDDLEWARE, as each package's docs ask, in front
of startproject's 7 default classes. Every ID middleware returns the ID in ``X-Request-ID``.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from django.core.signals import request_finished
from django.utils.module_loading import import_string

from benchmarks.harness import Benchmark, Case, Send

DEFAULT_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
PRODKIT = "django_prodkit.logs.RequestIDMiddleware"
GUID = "django_guid.middleware.guid_middleware"
LOG_REQUEST_ID = "log_request_id.middleware.RequestIDMiddleware"
NOOP = "benchmarks.project.NoopMiddleware"

HEADER = "X-Request-ID"
INCOMING_ID = "4f0c2a8e-9d1b-4e7a-b3c5-6d8e9f0a1b2c"
_GENERATED = re.compile(r"[0-9a-f]{32}")

LOG_OFF = {"PRODKIT": {"LOGS": {"REQUEST_LOG": False}}}
LOG_ON = {"PRODKIT": {"LOGS": {"REQUEST_LOG": True}}}
LOG_REQUEST_ID_SETTINGS = {
    "LOG_REQUEST_ID_HEADER": "HTTP_X_REQUEST_ID",
    "GENERATE_REQUEST_ID_IF_NOT_IN_HEADER": True,
    "REQUEST_ID_RESPONSE_HEADER": HEADER,
}

# Where the request logs go: one handler per logger, JSON lines to /dev/null, flushed per
# record as a StreamHandler on stdout would be. Swapped for a StringIO while verifying.
_sinks: list[logging.StreamHandler[TextIO]] = []


def _sink(logger_name: str, log_filter: logging.Filter) -> None:
    from django_prodkit.logs import JSONFormatter

    stream: TextIO = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(log_filter)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    _sinks.append(handler)


def _send_capturing_logs(send: Send) -> tuple[dict[str, str], list[dict[str, object]]]:
    buffers = [io.StringIO() for _ in _sinks]
    previous = [
        sink.setStream(buffer) for sink, buffer in zip(_sinks, buffers, strict=True)
    ]
    try:
        headers = send().headers
    finally:
        for sink, stream in zip(_sinks, previous, strict=True):
            assert stream is not None
            sink.setStream(stream)
    lines = [
        json.loads(line)
        for buffer in buffers
        for line in buffer.getvalue().splitlines()
    ]
    return headers, lines


def _expect(
    *, request_id: str | None, log_lines: int = 0, default_stack: bool = True
) -> Callable[[Send], None]:
    """A verifier: the ID header (``"new"`` or an exact value), log lines, default stack."""

    def verify(send: Send) -> None:
        first, lines = _send_capturing_logs(send)
        second, _ = _send_capturing_logs(send)
        # XFrameOptionsMiddleware is last in the default stack: its header proves the stack.
        assert ("x-frame-options" in first) is default_stack, first
        assert len(lines) == log_lines, lines
        value = first.get(HEADER.lower())
        if request_id is None:
            assert value is None, first
        elif request_id == "new":
            assert value is not None, first
            assert _GENERATED.fullmatch(value), first
            assert second[HEADER.lower()] != value, "the same ID twice"
        else:
            assert value == request_id, first
        for line in lines:
            assert line["request_id"] == value, line

    return verify


@contextmanager
def _receiving(receiver: Callable[..., object]) -> Iterator[None]:
    """Connect a peer's request_finished receiver during its own case's visits only."""
    request_finished.connect(receiver)
    try:
        yield
    finally:
        request_finished.disconnect(receiver)


def build() -> list[Case]:
    from django_guid.signals import clear_guid

    from django_prodkit.logs import RequestIDFilter

    # Both peers connect a request_finished receiver for every request of the process
    # (django-guid in AppConfig.ready(), log-request-id on import); left connected, they
    # would be charged to every case, including the baselines.
    clear_request_id = import_string("log_request_id.middleware._clear_request_id")
    for receiver in (clear_guid, clear_request_id):
        assert request_finished.disconnect(receiver), receiver
    _sink("django_prodkit.request", RequestIDFilter())
    _sink(
        "log_request_id.middleware",
        import_string("log_request_id.filters.RequestIDFilter")(),
    )

    default = list(DEFAULT_MIDDLEWARE)
    guid = functools.partial(_receiving, clear_guid)
    log_request_id = functools.partial(_receiving, clear_request_id)
    return [
        Case(
            key="a",
            label="bare Django, MIDDLEWARE = []",
            middleware=[],
            verify=_expect(request_id=None, default_stack=False),
        ),
        Case(
            key="b",
            label="Django's default MIDDLEWARE (7 classes)",
            middleware=default,
            verify=_expect(request_id=None),
        ),
        Case(
            key="r",
            label="ref: (b) + one no-op middleware",
            middleware=[NOOP, *default],
            verify=_expect(request_id=None),
        ),
        Case(
            key="c",
            label="(b) + prodkit RequestIDMiddleware, request log off",
            middleware=[PRODKIT, *default],
            settings=LOG_OFF,
            verify=_expect(request_id="new"),
        ),
        Case(
            key="d",
            label="(b) + prodkit RequestIDMiddleware, request log on (JSON lines)",
            middleware=[PRODKIT, *default],
            settings=LOG_ON,
            verify=_expect(request_id="new", log_lines=1),
        ),
        Case(
            key="e",
            label="(c) with a valid incoming X-Request-ID (kept)",
            middleware=[PRODKIT, *default],
            settings=LOG_OFF,
            environ={"HTTP_X_REQUEST_ID": INCOMING_ID},
            verify=_expect(request_id=INCOMING_ID),
        ),
        Case(
            key="f",
            label="(b) + django-guid guid_middleware",
            middleware=[GUID, *default],
            context=guid,
            verify=_expect(request_id="new"),
        ),
        Case(
            key="g",
            label="(b) + django-log-request-id RequestIDMiddleware",
            middleware=[LOG_REQUEST_ID, *default],
            settings=LOG_REQUEST_ID_SETTINGS,
            context=log_request_id,
            verify=_expect(request_id="new"),
        ),
        Case(
            key="h",
            label="(g) + its request log on (JSON lines)",
            middleware=[LOG_REQUEST_ID, *default],
            settings={**LOG_REQUEST_ID_SETTINGS, "LOG_REQUESTS": True},
            context=log_request_id,
            verify=_expect(request_id="new", log_lines=1),
        ),
    ]


SPEC = Benchmark(
    name="request_id",
    title="Request IDs: prodkit vs bare Django and peers",
    baseline="b",
    installed_apps=["django_prodkit", "django_guid"],
    # django-guid reads DJANGO_GUID once, when imported. Same header as the others, and no
    # Access-Control-Expose-Headers (prodkit and log-request-id do not add one either).
    settings={"DJANGO_GUID": {"GUID_HEADER_NAME": HEADER, "EXPOSE_HEADER": False}},
    distributions=["django-prodkit", "django-guid", "django-log-request-id"],
    build=build,
)
