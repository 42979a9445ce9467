from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import sys
from logging.handlers import QueueHandler, QueueListener

import pytest
from django.test import Client

from django_prodkit.logs import JSONFormatter, RequestIDFilter
from django_prodkit.logs.context import current_request_id


def make_record(msg="hello %s", args=("world",), **extra):
    record = logging.LogRecord(
        "app.module", logging.WARNING, "f.py", 10, msg, args, None
    )
    record.__dict__.update(extra)
    return record


@pytest.fixture
def in_request():
    token = current_request_id.set("req-1")
    yield "req-1"
    current_request_id.reset(token)


def test_json_line_has_core_keys():
    document = json.loads(JSONFormatter().format(make_record()))
    assert document["level"] == "WARNING"
    assert document["logger"] == "app.module"
    assert document["message"] == "hello world"
    assert document["request_id"] is None
    assert document["time"].endswith("+00:00")


def test_json_line_reads_request_id_from_context(in_request):
    assert json.loads(JSONFormatter().format(make_record()))["request_id"] == "req-1"


def test_json_line_prefers_the_id_stored_on_the_record(in_request):
    record = make_record(request_id="from-record")
    assert json.loads(JSONFormatter().format(record))["request_id"] == "from-record"


def test_filter_placeholder_becomes_null():
    record = make_record()
    RequestIDFilter().filter(record)
    assert record.request_id == "-"
    assert json.loads(JSONFormatter().format(record))["request_id"] is None


def test_extra_fields_are_kept_and_unserialisable_values_stringified():
    record = make_record(
        duration_ms=1.5,
        route=None,
        user=object.__new__(type("User", (), {"__str__": lambda self: "alice"})),
    )
    document = json.loads(JSONFormatter().format(record))
    assert (document["duration_ms"], document["route"], document["user"]) == (
        1.5,
        None,
        "alice",
    )


def test_extra_cannot_overwrite_core_keys():
    document = json.loads(
        JSONFormatter().format(make_record(level="fake", time="fake"))
    )
    assert (document["level"], document["time"] != "fake") == ("WARNING", True)


def test_exception_is_included():
    try:
        raise ValueError("bad")
    except ValueError:
        record = make_record(exc_info=sys.exc_info())
    document = json.loads(JSONFormatter().format(record))
    assert document["exception"].startswith("Traceback")
    assert "ValueError: bad" in document["exception"]


def test_stack_info_is_included():
    document = json.loads(
        JSONFormatter().format(make_record(stack_info="Stack (most recent call last):"))
    )
    assert document["stack"] == "Stack (most recent call last):"


def test_each_record_is_one_line():
    line = JSONFormatter().format(make_record(msg="two\nlines", args=()))
    assert "\n" not in line
    assert json.loads(line)["message"] == "two\nlines"


def test_filter_keeps_an_existing_id(in_request):
    record = make_record(request_id="kept")
    RequestIDFilter().filter(record)
    assert record.request_id == "kept"


def test_filter_uses_context(in_request):
    record = make_record()
    assert RequestIDFilter().filter(record) is True
    assert record.request_id == "req-1"


def test_django_request_records_never_serialise_the_request(log_records):
    response = Client(raise_request_exception=False).get(
        "/boom/",
        headers={
            "cookie": "sessionid=secret-cookie",
            "authorization": "Bearer secret-token",
        },
    )
    [record] = [r for r in log_records if r.name == "django.request"]
    line = JSONFormatter().format(record)
    assert "secret" not in line
    document = json.loads(line)
    assert "request" not in document
    assert (document["status_code"], document["request_id"]) == (
        500,
        response["X-Request-ID"],
    )


def test_id_survives_a_queue_handler(in_request):
    """The filter on the producing side stores the ID; the listener thread formats it."""
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    sink = Collect()
    sink.setFormatter(JSONFormatter())
    producer = QueueHandler(records)
    producer.addFilter(RequestIDFilter())
    listener = QueueListener(records, sink)
    logger = logging.getLogger("tests.queue")
    logger.addHandler(producer)
    logger.propagate = False
    listener.start()
    try:
        logger.warning("queued")
    finally:
        listener.stop()
        logger.removeHandler(producer)
        logger.propagate = True
    assert json.loads(lines[0])["request_id"] == "req-1"


def test_django_not_found_line_carries_the_id(client, log_records):
    """Django logs "Not Found" after the middleware stack returned; the ID comes from the request."""
    response = client.get("/missing/", headers={"x-request-id": "nf-1"})
    [record] = [r for r in log_records if r.name == "django.request"]
    assert record.getMessage() == "Not Found: /missing/"
    assert record.request_id == response["X-Request-ID"] == "nf-1"
    assert json.loads(JSONFormatter().format(record))["request_id"] == "nf-1"


@pytest.mark.parametrize(
    "created", [0.0, 1764068400.5, 1764068400.999, 1764068401.0425]
)
def test_time_is_iso_8601_utc_with_milliseconds(created):
    record = make_record()
    record.created = created
    record.msecs = int((created - int(created)) * 1000)
    formatter = JSONFormatter()
    expected = dt.datetime.fromtimestamp(int(created), tz=dt.UTC).replace(
        microsecond=int(record.msecs) * 1000
    )
    assert json.loads(formatter.format(record))["time"] == expected.isoformat(
        timespec="milliseconds"
    )
    # The second part is cached per formatter: a second record in the same second agrees.
    assert json.loads(formatter.format(record))["time"] == expected.isoformat(
        timespec="milliseconds"
    )


def test_preformatted_exception_text_is_included():
    """Records that crossed a process (SocketHandler) carry exc_text without exc_info."""
    record = make_record(exc_text="Traceback (most recent call last):\nValueError: bad")
    assert json.loads(JSONFormatter().format(record))["exception"].endswith(
        "ValueError: bad"
    )
