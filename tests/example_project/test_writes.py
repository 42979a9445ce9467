"""Correct writes in the example, over HTTP against a threaded server.

Concurrent PUTs of one note version and concurrent POSTs of one order with one
Idempotency-Key come from real clients in threads, against the example's real server.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.example_project.test_server import Server, _serve
from tests.services import REDIS_URL

Answer = tuple[int, dict[str, str], bytes]


def send(
    server: Server,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body)
    request = urllib.request.Request(
        server.url + path,
        data=data.encode() if isinstance(data, str) else data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def at_once(count: int, call: Callable[[int], Answer]) -> list[Answer]:
    """Run ``call(i)`` in ``count`` threads released together; answers in thread order."""
    barrier = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        answers[index] = call(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(answer is not None for answer in answers)
    return answers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _serve(tmp_path_factory.mktemp("writes")) as served:
        yield served


def _new_note(server: Server, text: str) -> dict[str, Any]:
    status, headers, body = send(server, "POST", "/demo/notes/", {"text": text})
    assert status == 201
    note: dict[str, Any] = json.loads(body)
    assert headers["ETag"] == '"1"'
    assert headers["Location"] == f"/demo/notes/{note['id']}/"
    return note


def test_a_note_is_read_saved_and_a_stale_put_answers_409(server: Server) -> None:
    note = _new_note(server, "first")
    path = f"/demo/notes/{note['id']}/"
    status, headers, body = send(server, "GET", path)
    assert (status, headers["ETag"], json.loads(body)["version"]) == (200, '"1"', 1)
    status, headers, body = send(server, "PUT", path, {"text": "second", "version": 1})
    assert (status, headers["ETag"], json.loads(body)["version"]) == (200, '"2"', 2)
    status, headers, body = send(server, "PUT", path, {"text": "stale", "version": 1})
    assert status == 409
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert {k: answer[k] for k in ("error", "model", "pk", "current_version")} == {
        "error": "conflict",
        "model": "demo.note",
        "pk": note["id"],
        "current_version": 2,
    }
    listed = json.loads(send(server, "GET", "/demo/notes/")[2])["notes"]
    assert {"id": note["id"], "text": "second", "version": 2} in [
        {k: n[k] for k in ("id", "text", "version")} for n in listed
    ]


def test_if_match_carries_the_version_and_a_stale_one_answers_412(
    server: Server,
) -> None:
    path = f"/demo/notes/{_new_note(server, 'tagged')['id']}/"
    ok = send(server, "PUT", path, {"text": "v2"}, {"If-Match": '"1"'})
    assert ok[0] == 200
    stale = send(server, "PUT", path, {"text": "v3"}, {"If-Match": '"1"'})
    assert stale[0] == 412
    assert stale[1]["ETag"] == '"2"'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        ({"text": "no version"}, "send the version"),
        ({"text": "", "version": 1}, "'text'"),
        ({"text": "x", "version": "1"}, "'version'"),
    ],
)
def test_bad_note_input_answers_400_and_changes_nothing(
    server: Server, body: Any, reason: str
) -> None:
    note = _new_note(server, "unchanged")
    path = f"/demo/notes/{note['id']}/"
    status, _headers, answer = send(server, "PUT", path, body)
    assert status == 400
    assert reason in json.loads(answer)["detail"]
    assert json.loads(send(server, "GET", path)[2])["text"] == "unchanged"


def test_concurrent_puts_of_one_version_exactly_one_wins(server: Server) -> None:
    note = _new_note(server, "contended")
    path = f"/demo/notes/{note['id']}/"
    writers = 8
    answers = at_once(
        writers,
        lambda n: send(server, "PUT", path, {"text": f"w{n}", "version": 1}),
    )
    statuses = sorted(status for status, _h, _b in answers)
    assert statuses == [200] + [409] * (writers - 1), statuses
    [winner] = [json.loads(b) for s, _h, b in answers if s == 200]
    stored = json.loads(send(server, "GET", path)[2])
    assert (stored["text"], stored["version"]) == (winner["text"], 2)


def _order_count(server: Server) -> int:
    return int(json.loads(send(server, "GET", "/demo/orders/")[2])["count"])


def _concurrent_identical_orders(server: Server) -> None:
    before = _order_count(server)
    key = str(uuid.uuid4())
    order = {"item": "espresso cups", "quantity": 6}
    answers = at_once(
        10,
        lambda _n: send(
            server, "POST", "/demo/orders/", order, {"Idempotency-Key": key}
        ),
    )
    assert _order_count(server) == before + 1
    statuses = {status for status, _h, _b in answers}
    assert statuses <= {201, 409}, statuses
    assert 201 in statuses
    # Once the first has finished, every retry is its replay, byte for byte.
    first = [a for a in answers if a[0] == 201 and "Idempotent-Replayed" not in a[1]]
    assert len(first) == 1
    for _ in range(3):
        status, headers, body = send(
            server, "POST", "/demo/orders/", order, {"Idempotency-Key": key}
        )
        assert (status, body) == (201, first[0][2])
        assert headers["Idempotent-Replayed"] == "true"
    assert _order_count(server) == before + 1


def test_ten_concurrent_identical_posts_create_one_order(server: Server) -> None:
    _concurrent_identical_orders(server)


@pytest.mark.redis
def test_ten_concurrent_identical_posts_create_one_order_with_redis(
    tmp_path: Path,
) -> None:
    with _serve(tmp_path, REDIS_URL=REDIS_URL) as server:
        _concurrent_identical_orders(server)


def test_a_reused_key_with_another_body_or_a_bad_key_is_refused(
    server: Server,
) -> None:
    key = str(uuid.uuid4())
    order = {"item": "saucers", "quantity": 2}
    assert (
        send(server, "POST", "/demo/orders/", order, {"Idempotency-Key": key})[0] == 201
    )
    before = _order_count(server)
    other = {"item": "saucers", "quantity": 3}
    reused = send(server, "POST", "/demo/orders/", other, {"Idempotency-Key": key})
    assert reused[0] == 422
    bad = send(server, "POST", "/demo/orders/", order, {"Idempotency-Key": "a b"})
    assert bad[0] == 400
    assert _order_count(server) == before
