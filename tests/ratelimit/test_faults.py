"""The limiter when its Redis really goes away: a private redis-server, stopped mid-test.

"Stopped" is either killed (connections refused at once) or frozen with ``SIGSTOP`` (the
socket accepts, nothing answers: every call waits for its socket timeout), the case the
circuit breaker exists for.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest

from django_prodkit import health
from django_prodkit.breaker import get_breaker
from django_prodkit.ratelimit.health import ratelimit_check
from tests.ratelimit.servers import RedisServer, steady

pytestmark = pytest.mark.redis

IP = "198.51.100.1"
SOCKET_TIMEOUT = 0.5
HEADERS = ("RateLimit", "RateLimit-Policy")


@pytest.fixture
def ratelimit_health() -> Iterator[None]:
    health.register("ratelimit", ratelimit_check, critical=False)
    yield
    health.unregister("ratelimit")


def setup(
    configure,
    server: RedisServer,
    algorithm: str,
    *,
    fail: str = "open",
    rate: str = "2/m",
    breaker_seconds: float = 1.0,
    **cache_options: object,
) -> None:
    configure(
        [{"NAME": "api", "PATH": "/api/", "RATE": rate}],
        algorithm=algorithm,
        location=server.url(),
        redis={"BREAKER_FAILURES": 3, "BREAKER_SECONDS": breaker_seconds},
        cache_options={
            "SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": SOCKET_TIMEOUT,
            **cache_options,
        },
        FAIL=fail,
    )


def get(client, path: str = "/api/items/"):
    return client.get(path, REMOTE_ADDR=IP)


def counted(response) -> bool:
    """Whether the limiter counted this admitted request (it then describes it)."""
    assert response.status_code == 200
    assert response.json()["ok"] is True  # The view ran.
    return all(response.has_header(name) for name in HEADERS)


def remaining(response) -> int:
    return int(response["RateLimit"].split(";r=")[1].split(";")[0])


def breaker_records(caplog, level: int, text: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "django_prodkit.breaker"
        and record.levelno == level
        and text in record.getMessage()
    ]


def state() -> str:
    """The state of the breaker in front of the limiter's cache."""
    return get_breaker("cache:ratelimit").state


def health_of(client) -> tuple[int, dict[str, object]]:
    response = client.get("/health/", REMOTE_ADDR=IP)
    return response.status_code, json.loads(response.content)


def test_fail_open_admits_without_headers_while_redis_is_down(
    client, configure, private_redis, algorithm
):
    setup(configure, private_redis, algorithm)
    assert counted(get(client))
    private_redis.stop()
    for _ in range(10):  # Far over 2/m: nothing is counted, nothing is refused.
        response = get(client)
        assert not counted(response)
        assert not response.has_header("Retry-After")
    assert state() == "open"


def test_fail_closed_answers_503_with_retry_after(
    client, configure, private_redis, algorithm
):
    setup(configure, private_redis, algorithm, fail="closed", breaker_seconds=2)
    assert counted(get(client))
    private_redis.stop()
    for _ in range(6):  # Errors first, then the open breaker: the same answer.
        response = get(client)
        assert response.status_code == 503
        assert response["Content-Type"] == "application/json"
        body = json.loads(response.content)
        assert body["error"] == "rate_limit_unavailable"
        assert body["retry_after"] == 2
        assert response["Retry-After"] == "2"
        assert "ok" not in body  # The view did not run.
    assert state() == "open"
    # Exempt paths are not refused.
    assert client.get("/health/live/", REMOTE_ADDR=IP).status_code == 200
    # Paths no rule matches are not refused either.
    assert client.get("/pages/", REMOTE_ADDR=IP).status_code == 200


@pytest.mark.slow
def test_breaker_stops_paying_timeouts_logs_once_and_closes_when_redis_answers(
    client, configure, private_redis, algorithm, caplog, ratelimit_health
):
    breaker_seconds = 2.0
    setup(
        configure,
        private_redis,
        algorithm,
        rate="10/h",
        breaker_seconds=breaker_seconds,
    )
    steady(algorithm, f"ip:{IP}", period=3600, margin=15)  # The count must last.
    caplog.set_level(logging.INFO)
    assert counted(get(client))
    assert health_of(client)[1]["status"] == "healthy"

    private_redis.freeze()
    for _ in range(3):  # BREAKER_FAILURES requests, each waiting for its timeout.
        started = time.monotonic()
        assert not counted(get(client))
        assert time.monotonic() - started >= SOCKET_TIMEOUT * 0.9
    opened = time.monotonic()
    assert state() == "open"

    started = time.monotonic()
    for _ in range(50):
        assert not counted(get(client))
    elapsed = time.monotonic() - started
    # Without the breaker: 50 x 0.5 s = 25 s. With it, no call reaches Redis at all.
    assert elapsed < 2.0, elapsed

    assert len(breaker_records(caplog, logging.ERROR, "circuit breaker open")) == 1
    status, body = health_of(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["ratelimit"]["status"] == "fail"  # type: ignore[index]
    assert body["checks"]["ratelimit"]["critical"] is False  # type: ignore[index]

    private_redis.thaw()
    # Redis answers again, but the breaker holds until its period is over.
    assert time.monotonic() - opened < breaker_seconds - 0.5
    assert not counted(get(client))
    time.sleep(max(0.0, opened + breaker_seconds + 0.1 - time.monotonic()))
    probe = get(client)  # The probe: counted, on top of the count kept in Redis.
    assert counted(probe)
    # 1 before, the probe, and up to 3 timed-out calls that Redis ran once thawed.
    assert 10 - 2 - 3 <= remaining(probe) <= 10 - 2
    after = get(client)
    assert counted(after)
    assert remaining(after) == remaining(probe) - 1
    assert state() == "closed"

    assert len(breaker_records(caplog, logging.ERROR, "circuit breaker open")) == 1
    assert len(breaker_records(caplog, logging.WARNING, "circuit breaker closed")) == 1
    status, body = health_of(client)
    assert (status, body["status"]) == (200, "healthy")


@pytest.mark.slow
def test_redis_restarted_on_the_same_port_resumes_counting(
    client, configure, private_redis, algorithm, caplog
):
    setup(configure, private_redis, algorithm, breaker_seconds=1.0)
    caplog.set_level(logging.INFO)
    assert counted(get(client))
    private_redis.stop()
    for _ in range(5):
        assert not counted(get(client))
    assert state() == "open"
    time.sleep(1.1)
    assert state() == "half-open"
    assert not counted(get(client))  # A probe, refused by the dead server ...
    assert state() == "open"  # ... keeps the breaker open another period.
    opened = time.monotonic()
    private_redis.start()  # Empty: no counts, no loaded script.
    assert not counted(get(client))
    time.sleep(max(0.0, opened + 1.1 - time.monotonic()))
    first = get(client)
    assert counted(first)
    assert remaining(first) == 1
    assert counted(get(client))
    refused = get(client)  # The limit holds again.
    assert refused.status_code == 429
    assert json.loads(refused.content)["error"] == "rate_limited"
    # One line when it opened, one when it closed; nothing for the failed probe.
    assert len(breaker_records(caplog, logging.ERROR, "circuit breaker open")) == 1
    assert len(breaker_records(caplog, logging.WARNING, "circuit breaker closed")) == 1


@pytest.mark.parametrize("ratelimit_fail_open", [False, True])
def test_fixed_algorithm_with_a_cache_that_swallows_errors_still_fails_as_configured(
    client, configure, private_redis, settings, ratelimit_fail_open
):
    """django-redis ``IGNORE_EXCEPTIONS``: the cache answers "nothing" instead of raising.

    django-ratelimit then answers "limit everything", or with its ``RATELIMIT_FAIL_OPEN``
    "no limit"; either way the kit must see a failure: apply its own ``FAIL`` and feed
    the breaker.
    """
    setup(configure, private_redis, "fixed", fail="closed", IGNORE_EXCEPTIONS=True)
    settings.RATELIMIT_FAIL_OPEN = ratelimit_fail_open
    assert counted(get(client))
    private_redis.stop()
    for _ in range(4):
        assert get(client).status_code == 503
    assert state() == "open"
