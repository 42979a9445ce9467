"""Concurrent duplicates against a real threaded HTTP server: the view runs once."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.idempotency import views
from tests.idempotency.models import Order
from tests.ratelimit.servers import Response, serve

REPLAYED = "idempotent-replayed"
CLIENTS = 10


def post(url: str, body: bytes, key: str) -> Response:
    """One POST on its own connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=10
    )
    try:
        connection.request(
            "POST",
            parts.path,
            body=body,
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return Response(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_identical_posts_create_one_row(configure, store_cache):
    configure(store_cache)
    body = json.dumps({"item": "book"}).encode()
    start = threading.Barrier(CLIENTS)

    def client(_index: int) -> Response:
        start.wait(10)
        return post(url + "/slow-orders/", body, "order-42")

    with serve(share_memory_db=True) as url, ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(client, range(CLIENTS)))
        replay = post(url + "/slow-orders/", body, "order-42")

    assert Order.objects.count() == 1
    assert views.RUNS["order"] == 1
    ran = [a for a in answers if a.status == 201 and REPLAYED not in a.headers]
    assert len(ran) == 1
    others = [a for a in answers if a is not ran[0]]
    for answer in others:
        assert answer.status == 409 or answer.headers.get(REPLAYED) == "true"
    assert any(answer.status == 409 for answer in others)  # They did overlap.
    assert json.loads(ran[0].body) == {"id": Order.objects.get().pk, "item": "book"}
    assert (replay.status, replay.headers[REPLAYED]) == (201, "true")
    assert replay.body == ran[0].body
    assert replay.headers["content-type"] == ran[0].headers["content-type"]
