"""Exact admission under concurrency: real HTTP servers, real threads and processes."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.ratelimit.servers import ServerProcess, fetch, serve, steady

pytestmark = [pytest.mark.redis, pytest.mark.slow]

KEY = "ip:127.0.0.1"  # Every request comes from this machine: one bucket.


def burst(urls: list[str], threads: int, per_thread: int) -> dict[str, Counter[int]]:
    """``threads`` clients, each sending ``per_thread`` requests, cycling over ``urls``.

    Returns the statuses each server answered.
    """

    def client(index: int) -> list[tuple[str, int]]:
        answers = []
        for sent in range(per_thread):
            url = urls[(index + sent) % len(urls)]
            answers.append((url, fetch(url + "/api/items/").status))
        return answers

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(client, range(threads)))
    statuses: dict[str, Counter[int]] = {url: Counter() for url in urls}
    for answers in results:
        for url, status in answers:
            statuses[url][status] += 1
    return statuses


def total(statuses: dict[str, Counter[int]]) -> Counter[int]:
    return sum(statuses.values(), Counter())


def test_threads_against_one_server_admit_exactly_the_limit(
    configure, redis_db, algorithm
):
    configure(
        [{"NAME": "api", "PATH": "/api/", "RATE": "37/h"}],
        algorithm=algorithm,
        location=redis_db,
        cache_options={"SOCKET_TIMEOUT": 5, "SOCKET_CONNECT_TIMEOUT": 5},
    )
    steady(algorithm, KEY, period=3600, margin=15)
    with serve() as url:
        statuses = burst([url], threads=20, per_thread=5)
    assert total(statuses) == {200: 37, 429: 63}


def test_two_processes_sharing_redis_admit_exactly_the_limit(
    redis_db, key_prefix, algorithm
):
    steady(algorithm, KEY, period=3600, margin=15)
    environment = {
        "PRODKIT_TEST_REDIS_URL": redis_db,
        "PRODKIT_TEST_KEY_PREFIX": key_prefix,
        "PRODKIT_TEST_ALGORITHM": algorithm,
        "PRODKIT_TEST_RATE": "200/h",
    }
    servers = [ServerProcess(environment), ServerProcess(environment)]
    try:
        urls = [server.wait_ready() for server in servers]
        statuses = burst(urls, threads=20, per_thread=15)
    finally:
        for server in servers:
            server.stop()
    assert total(statuses) == {200: 200, 429: 100}, [s.stderr for s in servers]
    for answered in statuses.values():  # Both processes took part in the count.
        assert answered.total() == 150
        assert answered[200] > 0
