"""The service plugin itself, run in a child pytest so its environment can be chosen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.services import REDIS_URL, redact

ROOT = str(Path(__file__).resolve().parent.parent)
DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_DATABASE = "postgres://postgres:pw@127.0.0.1:1/test"

MARKED_TESTS = """
import pytest

@pytest.mark.redis
def test_needs_redis():
    pass

@pytest.mark.postgres
def test_needs_postgres():
    pass

def test_needs_nothing():
    pass
"""


@pytest.fixture
def run(pytester, monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "PRODKIT_REQUIRE_SERVICES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
    )
    pytester.makepyfile(test_marked=MARKED_TESTS)

    def run(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return pytester.runpytest_subprocess(
            "-p",
            "tests.services",
            "-p",
            "no:django",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-rs",
        )

    return run


def test_absent_service_skips_with_the_url_it_tried(run):
    result = run(REDIS_URL=DEAD_REDIS)
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines([f"*needs redis at {DEAD_REDIS}: *"])


def test_postgres_tests_skip_in_a_sqlite_run_naming_the_url_to_use(run):
    result = run(REDIS_URL=DEAD_REDIS)
    result.stdout.fnmatch_lines(
        ["*needs postgres at postgres://postgres@127.0.0.1:5432/test: *SQLite*"]
    )


def test_required_service_absent_stops_the_run(run):
    result = run(REDIS_URL=DEAD_REDIS, PRODKIT_REQUIRE_SERVICES="1")
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [f"*PRODKIT_REQUIRE_SERVICES=1 but *redis at {DEAD_REDIS}: *"]
    )
    assert "passed" not in result.stdout.str()


def test_unreachable_database_url_stops_the_run_without_showing_the_password(run):
    result = run(DATABASE_URL=DEAD_DATABASE)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*DATABASE_URL=postgres://postgres:***@127.0.0.1:1/test is unreachable*"]
    )
    assert ":pw@" not in result.stdout.str()


@pytest.mark.redis
def test_present_service_runs_its_tests(run):
    result = run(REDIS_URL=REDIS_URL)
    result.assert_outcomes(passed=2, skipped=1)


def test_redact_hides_only_the_password():
    assert redact("amqp://guest:guest@host:5672//") == "amqp://guest:***@host:5672//"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_run_uses_the_database_url():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        (version,) = cursor.fetchone()
    assert connection.vendor == "postgresql"
    assert version >= 140000
