"""``IdempotencyMiddleware`` through Django's test clients, sync and async, on both stores."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.core.files.uploadedfile import SimpleUploadedFile

from django_prodkit.idempotency import IdempotencyMiddleware
from tests.idempotency import views
from tests.idempotency.conftest import LOCMEM, MIDDLEWARE, REPLAYED, assert_error

# Replays ------------------------------------------------------------------------------


def test_replay_is_byte_identical_and_marked(store_on, send):
    store_on()
    first = send.post("/orders/")
    assert first.status_code == 201
    assert not first.has_header(REPLAYED)
    replay = send.post("/orders/")
    assert views.RUNS["create"] == 1
    assert replay.status_code == 201
    assert replay[REPLAYED] == "true"
    assert replay.content == first.content
    for name in ("Content-Type", "Location", "ETag"):
        assert replay[name] == first[name]
    assert not replay.has_header("X-Internal")  # Not in REPLAY_HEADERS.
    assert "flash" in first.cookies
    assert "flash" not in replay.cookies


def test_an_async_view_is_replayed(store_on, send):
    store_on()
    first = send.post("/async-orders/")
    replay = send.post("/async-orders/")
    assert views.RUNS["acreate"] == 1
    assert (replay.status_code, replay[REPLAYED]) == (201, "true")
    assert replay.content == first.content


def test_set_cookie_is_never_replayed_even_when_listed(store_on, send):
    store_on(REPLAY_HEADERS=["Content-Type", "Set-Cookie", "X-Internal"])
    first = send.post("/orders/")
    replay = send.post("/orders/")
    assert replay[REPLAYED] == "true"
    assert replay["X-Internal"] == first["X-Internal"]
    assert "flash" in first.cookies
    assert not replay.cookies
    assert not replay.has_header("Set-Cookie")
    assert not replay.has_header("Location")  # No longer listed.
    raw = send.post("/raw-cookie/", key="raw")
    assert raw["Set-Cookie"] == "raw=1; Path=/"
    raw_replay = send.post("/raw-cookie/", key="raw")
    assert raw_replay[REPLAYED] == "true"
    assert not raw_replay.has_header("Set-Cookie")


def test_client_errors_from_the_view_are_replayed(store_on, send):
    store_on()
    first = send.post("/status/400/")
    replay = send.post("/status/400/")
    assert views.RUNS["status-400"] == 1
    assert (replay.status_code, replay[REPLAYED]) == (400, "true")
    assert replay.content == first.content


def test_each_key_runs_once(store_on, send):
    store_on()
    for key in ("a", "b", "a", "b"):
        send.post("/orders/", key=key)
    assert views.RUNS["create"] == 2


# Refusals -----------------------------------------------------------------------------


def test_same_key_with_another_body_is_422(store_on, send):
    store_on()
    send.post("/orders/", b'{"item": "book"}')
    refused = send.post("/orders/", b'{"item": "lamp"}')
    assert_error(refused, 422, "idempotency_key_reused")
    assert views.RUNS["create"] == 1
    # The first answer is still there for the request that matches it.
    assert send.post("/orders/", b'{"item": "book"}')[REPLAYED] == "true"


def test_same_key_with_another_query_string_is_422(store_on, send):
    store_on()
    send.post("/orders/?coupon=A")
    assert_error(send.post("/orders/?coupon=B"), 422, "idempotency_key_reused")
    assert views.RUNS["create"] == 1


@pytest.mark.parametrize(
    "key",
    ["", "has space", "slash/", "é", "x" * 65, "semi;colon", "tab\tkey"],
    ids=["empty", "space", "slash", "non-ascii", "too-long", "semicolon", "tab"],
)
def test_malformed_key_is_400_and_nothing_runs(store_on, send, key):
    store_on(MAX_KEY_LENGTH=64)
    assert_error(send.post("/orders/", key=key), 400, "idempotency_key_invalid")
    assert views.RUNS["create"] == 0


def test_key_of_the_maximum_length_and_every_allowed_character_is_accepted(
    store_on, send
):
    store_on(MAX_KEY_LENGTH=64)
    key = ("AZaz09._~:-" * 6)[:64]
    assert send.post("/orders/", key=key).status_code == 201
    assert send.post("/orders/", key=key)[REPLAYED] == "true"


def test_missing_key_under_required_paths_is_400(store_on, send):
    store_on(REQUIRED_PATHS=["/api/"])
    assert_error(send.post("/api/pay/", key=None), 400, "idempotency_key_required")
    assert views.RUNS["create"] == 0
    assert send.post("/api/pay/").status_code == 201
    # Elsewhere a request without a key runs every time.
    assert send.post("/orders/", key=None).status_code == 201
    assert send.post("/orders/", key=None).status_code == 201
    assert views.RUNS["create"] == 3


def test_required_paths_honour_keys_outside_paths(store_on, send):
    store_on(PATHS=["/orders/"], REQUIRED_PATHS=["/api/"])
    send.post("/api/pay/")
    assert send.post("/api/pay/")[REPLAYED] == "true"
    assert views.RUNS["create"] == 1


def test_a_multipart_body_read_before_the_middleware_is_still_compared(
    store_on, client, settings
):
    store_on()
    position = settings.MIDDLEWARE.index(MIDDLEWARE)
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:position],
        "tests.idempotency.middleware.ReadFormMiddleware",
        *settings.MIDDLEWARE[position:],
    ]

    def post(item: str, content: bytes) -> Any:
        upload = SimpleUploadedFile("a.txt", content)
        data = {"item": item, "file": upload}
        return client.post("/orders/", data, headers={"Idempotency-Key": "k"})

    first = post("book", b"abc")
    assert post("book", b"xyz").content == first.content  # Same name and size.
    assert_error(post("lamp", b"abc"), 422, "idempotency_key_reused")
    assert_error(post("book", b"abcd"), 422, "idempotency_key_reused")
    assert views.RUNS["create"] == 1


def test_body_over_the_upload_limit_is_413(store_on, send, settings):
    store_on()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    refused = send.post("/orders/", json.dumps({"item": "x" * 200}))
    assert_error(refused, 413, "request_too_large")
    assert views.RUNS["create"] == 0


def test_second_request_while_the_first_runs_is_409(store_on, send):
    store_on()
    answers = {}

    def first() -> None:
        answers["first"] = send.post("/held/")

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert views.ENTERED.wait(10)
        in_use = send.post("/held/")
        other_body = send.post("/held/", b'{"item": "lamp"}')
    finally:
        views.RELEASE.set()
        thread.join(10)
    body = assert_error(in_use, 409, "idempotency_key_in_use")
    assert "running" in body["detail"]
    assert in_use["Retry-After"] == "1"
    assert_error(other_body, 422, "idempotency_key_reused")
    assert answers["first"].status_code == 201
    assert send.post("/held/")[REPLAYED] == "true"
    assert views.RUNS["held"] == 1


# What is not kept ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 503, 429])
def test_server_errors_and_429_are_not_kept(store_on, send, code):
    store_on()
    send.post(f"/status/{code}/")
    again = send.post(f"/status/{code}/")
    assert again.status_code == code
    assert not again.has_header(REPLAYED)
    assert views.RUNS[f"status-{code}"] == 2


@pytest.mark.parametrize("propagate", [False, True])
def test_a_view_that_raises_frees_the_key(store_on, send, settings, propagate):
    store_on()
    # Propagated, the exception passes through the middleware instead of a 500.
    settings.DEBUG_PROPAGATE_EXCEPTIONS = propagate
    for _attempt in range(2):
        with pytest.raises(RuntimeError, match="boom"):
            send.post("/boom/")
    assert views.RUNS["boom"] == 2


def test_an_answer_given_before_the_view_is_not_kept(store_on, mode_clients):
    store_on()
    enforcing = mode_clients(enforce_csrf_checks=True)
    refused = enforcing.post("/protected/")  # No CSRF token: the view never runs.
    assert refused.status_code == 403
    token = "a" * 32
    enforcing.client.cookies["csrftoken"] = token
    accepted = enforcing.post("/protected/", headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
    assert not accepted.has_header(REPLAYED)
    assert views.RUNS["protected"] == 1


def test_streaming_response_is_kept_without_its_body(store_on, send):
    store_on()
    first = send.post("/stream/")
    assert b"".join(first.streaming_content) == b"run 1"
    replay = send.post("/stream/")
    assert views.RUNS["stream"] == 1
    assert (replay.status_code, replay[REPLAYED]) == (202, "true")
    assert replay.content == b""
    assert replay["Location"] == "/streams/1/"
    assert replay["Content-Type"] == "text/plain"


def test_body_over_max_response_bytes_is_kept_without_it(store_on, send):
    store_on(MAX_RESPONSE_BYTES=1000)
    small = send.post("/sized/1000/")
    assert send.post("/sized/1000/").content == small.content
    large = send.post("/sized/1001/")
    replay = send.post("/sized/1001/")
    assert len(large.content) == 1001
    assert views.RUNS["sized"] == 2
    assert (replay.status_code, replay[REPLAYED]) == (200, "true")
    assert replay.content == b""
    assert replay["Content-Type"] == "application/octet-stream"


# Switched off -------------------------------------------------------------------------


def test_disabled_middleware_removes_itself(configure, send):
    configure({"BACKEND": LOCMEM}, ENABLED=False)
    with pytest.raises(MiddlewareNotUsed):
        IdempotencyMiddleware(lambda request: None)  # type: ignore[arg-type]
    send.post("/orders/")
    assert not send.post("/orders/").has_header(REPLAYED)
    assert views.RUNS["create"] == 2


def test_async_mode_has_an_async_process_view(configure):
    """Else the async handler would run it in a thread for every request."""
    configure({"BACKEND": LOCMEM})

    async def view(request):
        return None

    assert iscoroutinefunction(IdempotencyMiddleware(view).process_view)
    sync = IdempotencyMiddleware(lambda request: None)  # type: ignore[arg-type]
    assert not iscoroutinefunction(sync.process_view)
