from __future__ import annotations

import json
import re

from tests.example_project.runner import example_env, run

RECORDED = re.compile(r"Recorded (?P<count>\d+) health check results \(")
LOGIN = re.compile(r"Username: (?P<username>\S+)\n\s+Password: (?P<password>\S+)")

_SHOW_SETTINGS = """
import json
import django
django.setup()
from django.conf import settings
from example.celery import app
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": app.conf.task_always_eager,
    "broker": app.conf.broker_url,
    "debug": settings.DEBUG,
    "health_token": settings.HEALTH_TOKEN,
    "prodkit": sorted(settings.PRODKIT),
    "prodkit_health_token": settings.PRODKIT["HEALTH"]["TOKEN"],
}))
"""


def _login(output: str) -> tuple[str, str]:
    match = LOGIN.search(output)
    assert match, output
    return match["username"], match["password"]


def _settings(tmp_path, **env):
    result = run(["-c", _SHOW_SETTINGS], example_env(tmp_path / "db.sqlite3", **env))
    return json.loads(result.stdout)


def test_check_reports_no_issues(manage):
    result = manage("check")
    assert "System check identified no issues" in result.stdout


def test_defaults_are_embedded_services(tmp_path):
    assert _settings(tmp_path) == {
        "engine": "django.db.backends.sqlite3",
        "conn_max_age": 60,
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "eager": True,
        "broker": "memory://",
        "debug": True,
        "health_token": "",
        "prodkit": ["ERRORS", "HEALTH", "LOGS", "METRICS", "QUERIES", "RATELIMIT"],
        "prodkit_health_token": None,
    }


def test_service_urls_switch_to_real_services(tmp_path):
    found = _settings(
        tmp_path,
        DATABASE_URL="postgres://app@db.invalid:5432/app",
        REDIS_URL="redis://cache.invalid:6379/0",
        CELERY_BROKER_URL="amqp://guest@broker.invalid//",
        DJANGO_DEBUG="0",
        PRODKIT_HEALTH_TOKEN="s3cret",
    )
    assert found == {
        "engine": "django.db.backends.postgresql",
        "conn_max_age": 60,
        "cache": "django_redis.cache.RedisCache",
        "eager": False,
        "broker": "amqp://guest@broker.invalid//",
        "debug": False,
        "health_token": "s3cret",
        "prodkit": ["ERRORS", "HEALTH", "LOGS", "METRICS", "QUERIES", "RATELIMIT"],
        "prodkit_health_token": "s3cret",
    }


def test_seed_demo_prints_a_new_working_login_each_run(manage):
    manage("migrate", "--no-input")
    first = manage("seed_demo").stdout
    second = manage("seed_demo").stdout

    assert "LOCAL USE ONLY" in first
    assert "URL:      http://127.0.0.1:8000/admin/" in first
    (first_user, first_password), (second_user, second_password) = (
        _login(first),
        _login(second),
    )
    assert (first_user, second_user) == ("admin", "admin")
    assert first_password != second_password
    verify = (
        "from django.contrib.auth import authenticate, get_user_model; "
        f"user = authenticate(username='admin', password={second_password!r}); "
        "print(user.is_superuser, get_user_model().objects.count())"
    )
    assert manage("shell", "-c", verify).stdout.split()[-2:] == ["True", "1"]


def test_seed_demo_records_a_round_of_health_checks(manage):
    manage("migrate", "--no-input")
    output = manage("seed_demo").stdout
    match = RECORDED.search(output)
    assert match, output
    recorded = int(match["count"])
    show_runs = (
        "import json; from django_prodkit.health.models import HealthCheckRun; "
        "runs = HealthCheckRun.objects.all(); "
        "print(json.dumps({'rounds': runs.values('round').distinct().count(), "
        "'names': sorted(run.name for run in runs)}))"
    )
    # The shell prints a line of its own first on Django 5.2 and later.
    last_line = manage("shell", "-c", show_runs).stdout.splitlines()[-1]
    runs = json.loads(last_line)
    assert runs["rounds"] == 1
    assert len(runs["names"]) == recorded
    assert {"database:default", "cache:default", "migrations:default"} <= set(
        runs["names"]
    )


def test_seed_demo_base_url_sets_the_printed_admin_url(manage):
    manage("migrate", "--no-input")
    output = manage("seed_demo", "--base-url", "http://127.0.0.1:8765/").stdout
    assert "URL:      http://127.0.0.1:8765/admin/" in output


def test_seed_demo_refuses_when_debug_is_off(manage):
    result = manage("seed_demo", check=False, DJANGO_DEBUG="0")
    assert result.returncode == 1
    assert "--force" in result.stderr
    assert "Password" not in result.stdout


def test_seed_demo_force_runs_when_debug_is_off(manage):
    manage("migrate", "--no-input", DJANGO_DEBUG="0")
    result = manage("seed_demo", "--force", DJANGO_DEBUG="0")
    assert _login(result.stdout)[0] == "admin"


def test_json_logs_switch_writes_one_json_document_per_record(manage):
    log = "import logging; logging.getLogger('demo').info('hello %s', 'logs')"
    result = manage("shell", "-c", log, PRODKIT_JSON_LOGS="1")
    [line] = result.stderr.splitlines()
    record = json.loads(line)
    assert (record["logger"], record["message"], record["request_id"]) == (
        "demo",
        "hello logs",
        None,
    )


def test_text_logs_show_the_request_id_slot(manage):
    result = manage(
        "shell", "-c", "import logging; logging.getLogger('demo').info('hi')"
    )
    assert result.stderr.rstrip().endswith("INFO demo [-] hi")


def test_seed_demo_creates_the_demo_notes_and_orders_once(manage):
    manage("migrate", "--no-input")
    first = manage("seed_demo").stdout
    second = manage("seed_demo").stdout
    assert "Notes: 3 created, 3 in all." in first
    assert "Orders: 3 created, 3 in all." in first
    assert "Notes: 0 created, 3 in all." in second
    assert "Orders: 0 created, 3 in all." in second
