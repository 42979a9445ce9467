"""Queries and metrics in the example, through a real server: /demo/slow/ is stored as a
slow query, /demo/n-plus-one/ is reported, and /metrics counts the requests by route."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.example_project.test_server import Server, _serve

TOKEN = "example-metrics-token-for-the-tests-0123456789"


def _slow_queries(database: str) -> list[tuple[str, int, float]]:
    query = "SELECT sql, count, max_ms FROM prodkit_slowquery"
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute(query).fetchall()


def _wait_for(read, ready, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while not ready(value := read()):
        assert time.monotonic() < deadline, value
        time.sleep(0.1)
    return value


def _metrics(server: Server, **headers: str) -> tuple[int, str]:
    status, _headers, body = server.get("/metrics", headers=headers)
    return status, body.decode()


def _route_count(text: str, route: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "prodkit_http_requests":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name == "prodkit_http_requests_total"
                and sample.labels["route"] == route
            )
    return 0.0


def test_slow_n_plus_one_and_metrics(tmp_path: Path) -> None:
    with _serve(tmp_path, PRODKIT_METRICS_TOKEN=TOKEN) as server:
        status, headers, body = server.get("/demo/slow/")
        assert status == 200, body
        assert json.loads(body)["query_ms"] >= 250
        [line] = server.log_lines("slow query: ")
        assert headers["X-Request-ID"] in line
        rows = _wait_for(
            lambda: _slow_queries(str(tmp_path / "db.sqlite3")), lambda rows: rows
        )
        [(sql, count, max_ms)] = rows
        assert "demo_sleep(?)" in sql
        assert count == 1
        assert max_ms >= 250

        status, _headers, body = server.get("/demo/n-plus-one/")
        assert (status, json.loads(body)["queries"]) == (200, 21)
        [report] = server.log_lines("N+1 queries")
        assert "ran 20 times" in report
        assert "demo/views.py:" in report
        status, _headers, body = server.get("/demo/n-plus-one/?fixed=1")
        assert (status, json.loads(body)["queries"]) == (200, 1)
        assert len(server.log_lines("N+1 queries")) == 1

        assert _metrics(server)[0] == 403
        assert _metrics(server, Authorization="Bearer wrong")[0] == 403
        # The counts reach the roll-ups at the next flush (ROLLUP.FLUSH_SECONDS, 5 s).
        _status, text = _wait_for(
            lambda: _metrics(server, Authorization=f"Bearer {TOKEN}"),
            lambda answer: _route_count(answer[1], "/demo/n-plus-one/") == 2,
            seconds=20,
        )
        assert _route_count(text, "/demo/slow/") == 1
