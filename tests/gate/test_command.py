"""``prodkit_check`` run as a deploy script runs it: in a process of its own, on a
production-like settings module and a really migrated database."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator

import pytest

from tests.dead_services import closed_port, postgres_down, sqlite_down
from tests.services import DATABASE_URL

# Every subprocess run probes the production-like Redis cache.
pytestmark = pytest.mark.redis

LEVELS = {"debug", "info", "warning", "error", "critical"}
ID = re.compile(r"[a-z_]+(\.[a-z_]+)*\.[DIWEC]\d{3}")


def validate(document: object) -> None:
    """The JSON shape documented in docs/deploy-gate.md, exactly."""
    assert isinstance(document, dict)
    assert set(document) == {"passed", "fail_level", "results", "skipped"}
    assert isinstance(document["passed"], bool)
    assert document["fail_level"] in {"error", "warning", "info"}
    assert isinstance(document["skipped"], list)
    assert all(isinstance(entry, str) for entry in document["skipped"])
    assert isinstance(document["results"], list)
    for result in document["results"]:
        assert set(result) == {"id", "level", "message", "hint", "obj", "tags"}
        assert ID.fullmatch(result["id"]), result["id"]
        assert result["level"] in LEVELS
        assert isinstance(result["message"], str)
        assert result["message"]
        assert result["hint"] is None or isinstance(result["hint"], str)
        assert result["obj"] is None or isinstance(result["obj"], str)
        assert all(isinstance(tag, str) for tag in result["tags"])


def ids(run) -> list[str]:
    document = json.loads(run.stdout)
    validate(document)
    return [result["id"] for result in document["results"]]


def test_clean_production_settings_pass_with_exit_0(gate):
    run = gate()

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ERRORS:" not in run.stdout
    assert "WARNINGS:" not in run.stdout
    assert "(prodkit.I105) Database 'default' answered in" in run.stdout
    assert "(prodkit.I105) Cache 'default' answered in" in run.stdout
    assert run.stdout.rstrip().endswith("passed at fail level error.")


def test_json_is_one_document_of_the_documented_shape(gate):
    run = gate("--format", "json")

    document = json.loads(run.stdout)
    validate(document)
    assert run.returncode == 0, run.stderr
    assert document["passed"] is True
    assert document["fail_level"] == "error"
    assert {"prodkit.I105"} <= {result["id"] for result in document["results"]}


def test_unapplied_migration_exits_1(gate):
    run = gate(
        "--format",
        "json",
        extra='MIGRATION_MODULES = {"gate_shop": "tests.gate.shop.pending_migrations"}',
    )

    assert run.returncode == 1
    [result] = [r for r in json.loads(run.stdout)["results"] if r["level"] == "error"]
    assert result["id"] == "prodkit.E100"
    assert "gate_shop.0002_backfill" in result["message"]
    assert result["obj"] == "DATABASES['default']"
    assert (
        "CommandError: the deploy gate failed: 1 result at or above error" in run.stderr
    )


def test_model_change_without_migration_exits_1(gate):
    run = gate(
        "--format",
        "json",
        extra='MIGRATION_MODULES = {"gate_shop": "tests.gate.shop.stale_migrations"}',
    )

    assert run.returncode == 1
    [result] = [r for r in json.loads(run.stdout)["results"] if r["level"] == "error"]
    assert result["id"] == "prodkit.E101"
    assert "Add field note to order" in result["message"]


def test_conflicting_migrations_exit_1_and_skip_the_model_changes(gate):
    run = gate(
        "--format",
        "json",
        extra='MIGRATION_MODULES = {"gate_shop": "tests.gate.shop.conflicting_migrations"}',
    )

    document = json.loads(run.stdout)
    assert run.returncode == 1
    assert "prodkit.E102" in ids(run)
    assert any("model changes" in entry for entry in document["skipped"])


def test_unknown_prodkit_key_exits_1(gate):
    run = gate("--format", "json", extra='PRODKIT = {**PRODKIT, "GAET": {}}')

    assert run.returncode == 1
    assert "prodkit.E001" in ids(run)


def test_sentry_counts_as_error_capture(gate):
    extra = (
        'PRODKIT = {**PRODKIT, "ERRORS": {"ENABLED": False}}\n'
        "import sentry_sdk\n"
        f'sentry_sdk.init(dsn="https://public@127.0.0.1:{closed_port()}/1")'
    )

    run = gate("--format", "json", "--tag", "prodkit", extra=extra)

    assert "prodkit.W109" not in ids(run)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word: a hung server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


TIMEOUT = 3.0


def test_dead_and_hung_services_are_unreachable_within_the_timeout(gate, silent_port):
    down = (postgres_down if DATABASE_URL else sqlite_down)("reports")
    hung = {**postgres_down("archive"), "PORT": str(silent_port)}
    hung["OPTIONS"] = {"connect_timeout": 60}

    def redis(port: int) -> dict[str, object]:
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        }

    run = gate(
        "--format",
        "json",
        extra=(
            f'PRODKIT = {{**PRODKIT, "GATE": {{"TIMEOUT": {TIMEOUT}}}}}\n'
            f"DATABASES = {{**DATABASES, 'reports': {down!r}, 'archive': {hung!r}}}\n"
            f"CACHES = {{**CACHES, 'sessions': {redis(closed_port())!r}, "
            f"'hung': {redis(silent_port)!r}}}"
        ),
    )

    document = json.loads(run.stdout)
    validate(document)
    unreachable = {r["obj"] for r in document["results"] if r["id"] == "prodkit.E103"}
    assert run.returncode == 1
    assert unreachable == {
        "DATABASES['reports']",
        "DATABASES['archive']",
        "CACHES['sessions']",
        "CACHES['hung']",
    }
    # The process starts Django, then waits for the probes at most TIMEOUT seconds.
    assert run.seconds < 3 * TIMEOUT
    assert "migrations on database 'archive': it is unreachable" in document["skipped"]
    assert "DATABASES['default']" in {
        r["obj"] for r in document["results"] if r["id"] == "prodkit.I105"
    }
