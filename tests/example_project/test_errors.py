"""Error capture in the example: /demo/boom/ through a real server, log records, seed_demo.

The example stores its groups from prodkit's writer thread, in its own process, so the
tests read them straight from its database. The example writes a group's further
occurrences at most every second (its ``PRODKIT["ERRORS"]["FLUSH_SECONDS"]``): a count
read more than that after the last error holds every occurrence of it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.example_project.runner import example_env, run
from tests.example_project.test_server import Server, _serve
from tests.services import DATABASE_URL

TABLE = "prodkit_errorgroup"
COLUMNS = (
    "exception_type",
    "message",
    "culprit",
    "logger",
    "source",
    "severity",
    "status",
    "count",
    "times_regressed",
    "request_method",
    "request_path",
    "request_id",
    "context",
)
# The example's FLUSH_SECONDS, and a margin for a busy machine.
SETTLE_SECONDS = 1.0 + 1.5

Groups = list[dict[str, Any]]


def _groups(database: str) -> Groups:
    query = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY first_seen"
    if database.startswith("postgres"):
        import psycopg

        with psycopg.connect(database) as connection:
            rows = connection.execute(query).fetchall()
    else:
        with contextlib.closing(sqlite3.connect(database)) as connection:
            rows = connection.execute(query).fetchall()
    groups = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    for group in groups:
        if isinstance(group["context"], str):  # SQLite keeps JSON as text.
            group["context"] = json.loads(group["context"])
    return groups


def _settled(database: str, ready: Callable[[Groups], bool]) -> Groups:
    """The groups once ``ready`` holds, read again after the writer's interval, so
    that an occurrence still pending then (a second count of one error) shows too."""
    deadline = time.monotonic() + 15
    while not ready(_groups(database)):
        assert time.monotonic() < deadline, _groups(database)
        time.sleep(0.1)
    time.sleep(SETTLE_SECONDS)
    return _groups(database)


def _total(groups: Groups) -> int:
    return sum(group["count"] for group in groups)


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    """A database of its own on the run's PostgreSQL server, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"example_errors_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(DATABASE_URL)._replace(path=f"/{name}"))
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
            connection.execute(drop.format(sql.Identifier(name)))


def _boom_is_one_group_counting_each_request_once(
    server: Server, database: str
) -> None:
    status, headers, body = server.get("/demo/boom/")
    # The example's own 500 answer, unchanged by the capture.
    assert status == 500
    assert json.loads(body) == {
        "error": "server_error",
        "request_id": headers["X-Request-ID"],
    }
    # One occurrence, although Django both signals the exception and logs it to the
    # example's ErrorLogHandler.
    [group] = _settled(database, lambda groups: _total(groups) >= 1)
    assert {key: group[key] for key in COLUMNS if key != "context"} == {
        "exception_type": "RuntimeError",
        "message": "boom: the demo's deliberate error",
        "culprit": group["culprit"],
        "logger": "",
        "source": "request",
        "severity": "error",
        "status": "unresolved",
        "count": 1,
        "times_regressed": 0,
        "request_method": "GET",
        "request_path": "/demo/boom/",
        "request_id": headers["X-Request-ID"],
    }
    assert group["culprit"].startswith("demo.views.boom:")
    assert {"request", "frames"} <= set(group["context"])

    request_ids = [f"test-{uuid.uuid4()}" for _ in range(3)]
    for request_id in request_ids:
        assert server.get("/demo/boom/", request_id)[0] == 500
    [group] = _settled(database, lambda groups: _total(groups) >= 4)
    assert (group["count"], group["request_id"]) == (4, request_ids[-1])
    headers = group["context"]["request"]["headers"]
    assert headers["X-Request-Id"] == request_ids[-1]


def _seed_demo_records_groups_once(env: dict[str, str], database: str) -> None:
    run(["manage.py", "migrate", "--no-input"], env)
    first = run(["manage.py", "seed_demo"], env).stdout
    assert (
        "Error groups: 7 recorded (3 warning, 3 error, 1 critical), "
        "1 resolved, 1 regressed, 1 ignored; 7 in all."
    ) in first, first
    groups = _groups(database)
    assert Counter(group["severity"] for group in groups) == {
        "warning": 3,
        "error": 3,
        "critical": 1,
    }
    assert Counter(group["status"] for group in groups) == {
        "unresolved": 5,
        "resolved": 1,
        "ignored": 1,
    }
    by_type = {group["exception_type"]: group for group in groups}
    # Three calls of one function, two currencies, two items: one group each.
    assert by_type["ZeroDivisionError"]["count"] == 3
    assert by_type["ValueError"]["count"] == 2
    assert by_type[""]["count"] == 2  # capture_message()
    assert by_type[""]["message"].startswith("stock of ")
    regressed = by_type["PermissionError"]
    assert (regressed["status"], regressed["count"], regressed["times_regressed"]) == (
        "unresolved",
        2,
        1,
    )
    assert by_type["ConnectionRefusedError"]["status"] == "resolved"
    assert {group["source"] for group in groups} == {"code"}

    second = run(["manage.py", "seed_demo"], env).stdout
    assert "Error groups: the demo's 7 exist already, 7 in all." in second
    assert _groups(database) == groups


def _server_database(server_folder: Path) -> str:
    return str(server_folder / "db.sqlite3")


def test_boom_is_the_examples_500_and_one_group_counting_each_request_once(
    tmp_path: Path,
) -> None:
    with _serve(tmp_path) as server:
        _boom_is_one_group_counting_each_request_once(
            server, _server_database(tmp_path)
        )


@pytest.mark.postgres
def test_boom_groups_on_postgresql(tmp_path: Path) -> None:
    with _postgres_database() as url, _serve(tmp_path, DATABASE_URL=url) as server:
        _boom_is_one_group_counting_each_request_once(server, url)


def test_error_log_records_become_groups(manage, tmp_path: Path) -> None:
    manage("migrate", "--no-input")
    log = (
        "import logging; from django_prodkit import errors; "
        "logging.getLogger('demo.payments').error('refund %s failed', 1041); "
        "logging.getLogger('demo.payments').error('refund %s failed', 1042); "
        "logging.getLogger('demo.payments').warning('below ERROR: not a group'); "
        "print(errors.flush())"
    )
    result = manage("shell", "-c", log)
    assert result.stdout.splitlines()[-1] == "True"
    assert "refund 1041 failed" in result.stderr  # The console handler still logs it.
    [group] = _groups(str(tmp_path / "db.sqlite3"))
    assert (group["source"], group["logger"], group["severity"], group["count"]) == (
        "log",
        "demo.payments",
        "error",
        2,
    )
    assert group["message"] == "refund 1042 failed"


def test_seed_demo_records_groups_of_each_severity_and_status_once(
    tmp_path: Path,
) -> None:
    database = tmp_path / "db.sqlite3"
    _seed_demo_records_groups_once(example_env(database), str(database))


@pytest.mark.postgres
def test_seed_demo_records_error_groups_on_postgresql(tmp_path: Path) -> None:
    with _postgres_database() as url:
        env = example_env(tmp_path / "unused.sqlite3", DATABASE_URL=url)
        _seed_demo_records_groups_once(env, url)
