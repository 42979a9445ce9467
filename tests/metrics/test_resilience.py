from __future__ import annotations

import time

import pytest

from django_prodkit import rollup
from django_prodkit.breaker import CircuitBreaker, get_breaker
from tests.dead_services import closed_port
from tests.metrics.conftest import redis_cache

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
TOKEN = "s3cret-token-for-the-scraper-0123456789"


def state(breaker: CircuitBreaker) -> str:
    return breaker.state  # Read anew each time (mypy would narrow the attribute).


@pytest.fixture
def dead_redis(settings):
    """Roll-ups in a Redis that refuses connections, flushed at every request."""
    pytest.importorskip("django_redis")
    settings.CACHES = {
        **settings.CACHES,
        "rollup": redis_cache(f"redis://127.0.0.1:{closed_port()}/0", "dead"),
    }
    settings.PRODKIT = {
        **settings.PRODKIT,
        "ROLLUP": {"CACHE": "rollup", "FLUSH_SECONDS": 0.001},
        "REDIS": {"BREAKER_FAILURES": 3, "BREAKER_SECONDS": 0.2},
        "METRICS": {"TOKEN": TOKEN},
    }
    rollup.reset()


def test_requests_still_succeed_and_counts_wait_for_the_cache(
    client, settings, dead_redis, redis_db, key_prefix
):
    breaker = get_breaker("cache:rollup")
    for pk in range(20):
        time.sleep(0.002)  # Every request is due to flush.
        assert client.get(f"/notes/{pk}/").status_code == 200
    assert state(breaker) == "open"
    assert breaker.failures == 3  # Then the breaker stopped the attempts.
    assert rollup.total("http.requests", 5) == 20  # This process's, not written yet.
    response = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert (
        response.content == b"The roll-up store cannot be read; see the server log.\n"
    )

    settings.CACHES = {**settings.CACHES, "rollup": redis_cache(redis_db, key_prefix)}
    time.sleep(0.25)  # The breaker lets the next flush probe.
    assert client.get("/notes/99/").status_code == 200
    assert state(breaker) == "closed"
    assert rollup.totals()["http.requests"] == 21
    response = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert b'status="2xx"} 21\n' in response.content
