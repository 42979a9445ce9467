"""The middleware when its Redis really goes away: a private redis-server, stopped mid-test."""

from __future__ import annotations

import json
import time

import pytest

from tests.idempotency import views
from tests.idempotency.conftest import redis_cache
from tests.ratelimit.servers import RedisServer

pytestmark = pytest.mark.redis

REPLAYED = "Idempotent-Replayed"
TIMEOUT = 0.3


@pytest.fixture
def on_private_redis(configure, private_redis: RedisServer, key_prefix):
    def apply(fail: str, breaker_seconds: float = 10.0) -> RedisServer:
        configure(
            redis_cache(private_redis.url(), key_prefix, timeout=TIMEOUT),
            redis={"BREAKER_FAILURES": 1, "BREAKER_SECONDS": breaker_seconds},
            FAIL=fail,
        )
        return private_redis

    return apply


def test_fail_closed_answers_503_and_runs_nothing(on_private_redis, send):
    server = on_private_redis("closed")
    assert send.post("/orders/").status_code == 201
    server.stop()
    refused = send.post("/orders/", key="key-2")
    assert refused.status_code == 503
    assert refused["Retry-After"] == "10"
    assert refused["Cache-Control"] == "no-store"
    assert json.loads(refused.content)["error"] == "idempotency_unavailable"
    # Requests without a key do not need the store.
    assert send.post("/orders/", key=None).status_code == 201
    assert views.RUNS["create"] == 2


def test_fail_open_runs_the_request_without_idempotency(on_private_redis, send, caplog):
    server = on_private_redis("open")
    server.stop()
    first = send.post("/orders/")
    second = send.post("/orders/")
    assert (first.status_code, second.status_code) == (201, 201)
    assert not second.has_header(REPLAYED)
    assert views.RUNS["create"] == 2
    assert "runs without idempotency" in caplog.text


def test_an_open_breaker_costs_no_timeout(on_private_redis, client):
    server = on_private_redis("closed", breaker_seconds=0.5)
    server.freeze()  # Connections open, nothing answers: each call waits its timeout.
    try:
        started = time.monotonic()
        assert (
            client.post("/orders/", headers={"Idempotency-Key": "k"}).status_code == 503
        )
        assert time.monotonic() - started >= TIMEOUT
        started = time.monotonic()
        assert (
            client.post("/orders/", headers={"Idempotency-Key": "k"}).status_code == 503
        )
        assert time.monotonic() - started < TIMEOUT / 2
    finally:
        server.thaw()
    time.sleep(0.5)  # The breaker lets a probe through, which succeeds.
    assert client.post("/orders/", headers={"Idempotency-Key": "k"}).status_code == 201


def test_a_store_that_fails_after_the_view_ran_still_answers(
    on_private_redis, send, caplog
):
    server = on_private_redis("closed")
    views.HOOK.append(server.stop)
    answer = send.post("/hook/")
    assert answer.status_code == 201
    assert views.RUNS["hook"] == 1
    assert "response not kept for replay" in caplog.text


def test_a_store_that_fails_while_a_view_raises_still_raises(
    on_private_redis, client, caplog
):
    server = on_private_redis("closed")
    views.HOOK.append(server.stop)
    views.HOOK.append(views.boom_now)
    with pytest.raises(RuntimeError, match="boom"):
        client.post("/hook/", headers={"Idempotency-Key": "k"})
    assert "idempotency key not released" in caplog.text
