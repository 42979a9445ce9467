from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_prodkit.health import run_checks
from django_prodkit.health.models import HealthCheckRun
from django_prodkit.management.commands.prodkit_health import Command
from tests.health.helpers import (
    ONLY_CUSTOM,
    failing_check,
    passing_check,
    warning_check,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def only_custom(settings):
    settings.PRODKIT = {"HEALTH": ONLY_CUSTOM}


def health(*args, **options):
    out = StringIO()
    call_command("prodkit_health", *args, stdout=out, **options)
    return out.getvalue()


def test_text_lists_each_check_with_status_latency_and_message(register):
    register("api", passing_check)
    register("queue", warning_check, critical=False)

    lines = health().splitlines()

    assert len(lines) == 3
    api, queue, summary = lines
    assert api.split()[:2] == ["ok", "api"]
    assert api.endswith("ms  CRITICAL")
    assert queue.split()[:2] == ["warn", "queue"]
    assert "CRITICAL" not in queue
    assert queue.endswith("queue is 80% full")
    assert summary == "degraded: 1 ok, 1 warn, 0 fail"


def test_text_colours_status_words_when_colour_is_forced(register):
    register("api", passing_check)
    register("queue", warning_check, critical=False)

    output = health(force_color=True)

    assert "\x1b[" in output.splitlines()[0].split("api")[0]
    assert "\x1b[" in output.splitlines()[1].split("queue")[0]


def test_text_is_plain_without_a_terminal(register):
    register("api", passing_check)

    assert "\x1b[" not in health()


def test_json_prints_one_detailed_document(register):
    register("api", passing_check)
    register("payments", failing_check, critical=False)

    body = json.loads(health("--format", "json"))

    assert body["status"] == "degraded"
    assert body["checks"]["api"]["status"] == "ok"
    assert body["checks"]["payments"] == {
        "status": "fail",
        "latency_ms": body["checks"]["payments"]["latency_ms"],
        "critical": False,
        "message": "payments API did not answer",
    }
    assert {"hostname", "uptime_seconds", "memory_rss_mb", "versions"} <= body.keys()
    assert "recorded" not in body


def test_critical_failure_exits_1_after_printing(register):
    register("api", passing_check)
    register("payments", failing_check)
    out = StringIO()

    with pytest.raises(CommandError, match="payments") as raised:
        call_command("prodkit_health", stdout=out)

    assert raised.value.returncode == 1
    assert out.getvalue().splitlines()[-1] == "unhealthy: 1 ok, 0 warn, 1 fail"


def test_critical_failure_with_json_still_prints_the_document(register):
    register("payments", failing_check)
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("prodkit_health", "--format", "json", stdout=out)

    assert json.loads(out.getvalue())["status"] == "unhealthy"


def test_non_critical_failure_exits_0(register):
    register("payments", failing_check, critical=False)

    assert health().splitlines()[-1] == "degraded: 0 ok, 0 warn, 1 fail"


def test_command_ignores_results_kept_for_the_endpoints(register):
    calls = []
    register("api", lambda: calls.append(1))
    run_checks()  # As /health/ does: the result is kept for CACHE_SECONDS.

    health()
    health()

    assert len(calls) == 3


@pytest.mark.django_db
def test_record_stores_the_printed_results(register):
    register("api", passing_check)
    register("payments", failing_check, critical=False)

    output = health("--record")

    assert output.splitlines()[-1] == "Recorded 2 results."
    assert dict(HealthCheckRun.objects.values_list("name", "status")) == {
        "api": "ok",
        "payments": "fail",
    }


@pytest.mark.django_db
def test_record_with_json_reports_the_row_count(register):
    register("api", passing_check)

    body = json.loads(health("--record", "--format", "json"))

    assert body["recorded"] == 1
    assert HealthCheckRun.objects.get().name == "api"


def test_unknown_format_is_a_usage_error_with_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        Command().run_from_argv(["manage.py", "prodkit_health", "--format", "xml"])

    assert raised.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def manage(*args, pythonpath=()):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *pythonpath])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_process_exits_1_when_a_critical_check_fails():
    completed = manage("prodkit_health", "--settings", "tests.health.failing_settings")

    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.split()[:2] == ["fail", "failing-check"]
    assert "payments API did not answer" in completed.stdout
    assert "CommandError: unhealthy" in completed.stderr


def test_record_on_an_unwritable_database_prints_results_and_exits_1(tmp_path):
    health = {**ONLY_CUSTOM, "CHECKS": ["tests.health.helpers.passing_check"]}
    database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "missing" / "db.sqlite3"),
    }
    (tmp_path / "dead_db_settings.py").write_text(
        "from tests.settings import *\n"
        f"PRODKIT = {{'HEALTH': {health!r}}}\n"
        f"DATABASES = {{'default': {database!r}}}\n"
    )

    completed = manage(
        "prodkit_health",
        "--record",
        "--format",
        "json",
        "--settings",
        "dead_db_settings",
        pythonpath=[str(tmp_path)],
    )

    assert completed.returncode == 1, completed.stderr
    body = json.loads(completed.stdout)
    assert (body["status"], list(body["checks"]), body["recorded"]) == (
        "healthy",
        ["passing-check"],
        0,
    )
    assert "could not record the results" in completed.stderr
