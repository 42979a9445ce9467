from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.test import AsyncClient, Client

from django_prodkit.logs import RequestIDMiddleware, get_request_id

GENERATED = re.compile(r"[0-9a-f]{32}")


def request_lines(records: list[logging.LogRecord]) -> list[Any]:
    """The request-finished records (typed loosely: their fields come from ``extra``)."""
    return [record for record in records if record.name == "django_prodkit.request"]


@pytest.fixture(params=["wsgi", "asgi"])
def get(request):
    """GET through the full stack, under WSGI (Client) or ASGI (AsyncClient)."""
    if request.param == "wsgi":
        client = Client()
        return lambda path, **headers: client.get(path, headers=headers)
    async_client = AsyncClient()
    return lambda path, **headers: async_to_sync(async_client.get)(
        path, headers=headers
    )


def test_valid_incoming_id_is_kept(get):
    response = get("/sync/1/", x_request_id="abc-123.DEF_456")
    assert response["X-Request-ID"] == "abc-123.DEF_456"
    assert response.json() == {
        "request_id": "abc-123.DEF_456",
        "in_context": "abc-123.DEF_456",
    }


def test_missing_id_is_generated(get):
    response = get("/async/1/")
    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert response.json()["in_context"] == response["X-Request-ID"]


def test_each_request_gets_its_own_id(get):
    assert get("/sync/1/")["X-Request-ID"] != get("/sync/1/")["X-Request-ID"]


@pytest.mark.parametrize(
    "incoming",
    [
        "has space",
        'quote"d',
        "new\nline",
        "x" * 129,
        "caf\u00e9",
        "<script>",
    ],
)
def test_invalid_incoming_id_is_replaced(get, incoming):
    response = get("/sync/1/", x_request_id=incoming)
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_max_length_is_configurable(get, settings):
    settings.PRODKIT = {"LOGS": {"REQUEST_ID_MAX_LENGTH": 10}}
    assert get("/sync/1/", x_request_id="a" * 10)["X-Request-ID"] == "a" * 10
    assert GENERATED.fullmatch(get("/sync/1/", x_request_id="a" * 11)["X-Request-ID"])


def test_untrusted_incoming_id_is_replaced(get, settings):
    settings.PRODKIT = {"LOGS": {"TRUST_REQUEST_ID": False}}
    assert GENERATED.fullmatch(get("/sync/1/", x_request_id="valid-id")["X-Request-ID"])


def test_custom_header_is_read_and_returned(get, settings):
    settings.PRODKIT = {"LOGS": {"REQUEST_ID_HEADER": "X-Correlation-ID"}}
    response = get("/sync/1/", x_correlation_id="corr-1", x_request_id="ignored")
    assert response["X-Correlation-ID"] == "corr-1"
    assert "X-Request-ID" not in response


def test_error_response_carries_the_id(settings, log_records):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", headers={"x-request-id": "err-1"})
    assert (response.status_code, response["X-Request-ID"]) == (500, "err-1")
    [django_error] = [r for r in log_records if r.name == "django.request"]
    assert django_error.request_id == "err-1"


def test_view_log_records_carry_the_id(get, log_records):
    response = get("/sync/1/")
    [record] = [r for r in log_records if r.name == "tests.views"]
    assert record.request_id == response["X-Request-ID"]


def test_async_view_log_records_carry_the_id(get, log_records):
    response = get("/async/1/")
    [record] = [r for r in log_records if r.name == "tests.views"]
    assert record.request_id == response["X-Request-ID"]


def test_id_does_not_leak_after_the_request(get, log_records):
    get("/sync/1/")
    logging.getLogger("tests").info("after")
    assert log_records[-1].request_id == "-"
    assert get_request_id() is None


def test_one_request_line_with_fields(get, log_records):
    response = get("/sync/7/", x_request_id="line-1")
    [line] = request_lines(log_records)
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith("GET /sync/7/ 200 ")
    assert (line.method, line.path, line.route, line.status) == (
        "GET",
        "/sync/7/",
        "sync/<int:pk>/",
        200,
    )
    assert line.request_id == response["X-Request-ID"] == "line-1"
    assert isinstance(line.duration_ms, float)
    assert line.duration_ms >= 0


def test_request_line_for_unresolved_path_has_no_route(get, log_records):
    assert get("/missing/").status_code == 404
    [line] = request_lines(log_records)
    assert (line.status, line.route, line.levelno) == (404, None, logging.INFO)


def test_request_line_for_server_error_is_a_warning(log_records):
    Client(raise_request_exception=False).get("/boom/")
    [line] = request_lines(log_records)
    assert (line.status, line.levelno) == (500, logging.WARNING)


def test_request_line_duration_covers_the_view(rf, log_records):
    def slow_view(request):
        time.sleep(0.05)
        return HttpResponse()

    RequestIDMiddleware(slow_view)(rf.get("/slow/"))
    [line] = request_lines(log_records)
    assert line.duration_ms >= 50


def test_request_line_can_be_switched_off(get, settings, log_records):
    settings.PRODKIT = {"LOGS": {"REQUEST_LOG": False}}
    response = get("/sync/1/")
    assert response.has_header("X-Request-ID")
    assert request_lines(log_records) == []


def test_skipped_paths_are_not_logged(get, settings, log_records):
    settings.PRODKIT = {"LOGS": {"REQUEST_LOG_SKIP": ["/sync/"]}}
    get("/sync/1/")
    get("/async/1/")
    assert [line.path for line in request_lines(log_records)] == ["/async/1/"]


def test_request_line_not_built_when_logger_is_disabled(get, log_records):
    logger = logging.getLogger("django_prodkit.request")
    logger.setLevel(logging.ERROR)
    try:
        get("/sync/1/")
    finally:
        logger.setLevel(logging.NOTSET)
    assert request_lines(log_records) == []


def test_disabled_middleware_is_not_used(settings):
    settings.PRODKIT = {"LOGS": {"ENABLED": False}}
    with pytest.raises(MiddlewareNotUsed):
        RequestIDMiddleware(lambda request: HttpResponse())


def test_disabled_middleware_adds_no_header(client, settings):
    settings.PRODKIT = {"LOGS": {"ENABLED": False}}
    assert not client.get("/sync/1/").has_header("X-Request-ID")


class TestDirectCalls:
    """The middleware called with a dummy view, in each mode."""

    def test_sync_mode(self, rf):
        seen = []

        def view(request):
            seen.append(get_request_id())
            return HttpResponse()

        middleware = RequestIDMiddleware(view)
        assert not iscoroutinefunction(middleware)
        response = middleware(rf.get("/", headers={"x-request-id": "sync-1"}))
        assert (response["X-Request-ID"], seen) == ("sync-1", ["sync-1"])

    def test_async_mode(self, rf):
        seen = []

        async def view(request):
            await asyncio.sleep(0)
            seen.append(get_request_id())
            return HttpResponse()

        middleware = RequestIDMiddleware(view)
        assert iscoroutinefunction(middleware)
        response = asyncio.run(
            middleware(rf.get("/", headers={"x-request-id": "async-1"}))
        )
        assert (response["X-Request-ID"], seen) == ("async-1", ["async-1"])

    def test_concurrent_async_requests_keep_their_own_ids(self, rf):
        async def view(request):
            before = get_request_id()
            await asyncio.sleep(0.01)
            return HttpResponse(f"{before}|{get_request_id()}")

        middleware = RequestIDMiddleware(view)

        async def main():
            requests = [
                rf.get("/", headers={"x-request-id": f"id-{n}"}) for n in range(20)
            ]
            return await asyncio.gather(*(middleware(r) for r in requests))  # type: ignore[call-overload]

        responses = asyncio.run(main())
        assert [r.content.decode() for r in responses] == [
            f"id-{n}|id-{n}" for n in range(20)
        ]

    def test_context_is_reset_when_the_view_raises(self, rf):
        def view(request):
            raise KeyError("x")

        with pytest.raises(KeyError):
            RequestIDMiddleware(view)(rf.get("/"))
        assert get_request_id() is None
