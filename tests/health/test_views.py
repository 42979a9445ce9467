from __future__ import annotations

import json
import logging

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from django_prodkit.exceptions import ServiceUnavailable, ServiceWarning
from tests.health.helpers import ONLY_CUSTOM

TOKEN = "t0k3n-for-tests-only-0123456789"
SECRET = "hunter2-password-in-a-dsn"


@pytest.fixture(autouse=True)
def _only_custom(settings):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "TOKEN": TOKEN}}


def ok():
    return {"version": "1.2.3"}


def warns():
    raise ServiceWarning("queue is long")


def fails():
    raise ServiceUnavailable(
        f"connection to postgres://app:{SECRET}@db.internal failed"
    )


def body(response):
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)


@pytest.mark.parametrize("asgi", [False, True])
def test_live_answers_ok_without_running_any_check(
    client, async_client, register, asgi
):
    calls = []
    register("counted", lambda: calls.append(1))
    url = reverse("prodkit:health-live")
    response = async_to_sync(async_client.get)(url) if asgi else client.get(url)
    assert response.status_code == 200
    assert body(response) == {"status": "ok"}
    assert calls == []


@pytest.mark.django_db
def test_live_runs_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/health/live/").status_code == 200


def test_all_checks_passing_is_healthy_200(client, register):
    register("a", ok)
    register("b", ok, critical=False)
    response = client.get("/health/")
    data = body(response)
    assert response.status_code == 200
    assert data["status"] == "healthy"
    assert data["checks"]["a"]["status"] == "ok"
    assert data["checks"]["a"]["critical"] is True
    assert data["checks"]["b"]["critical"] is False
    assert isinstance(data["checks"]["a"]["latency_ms"], float)


def test_failing_non_critical_check_is_degraded_200(client, register):
    register("a", ok)
    register("b", fails, critical=False)
    response = client.get("/health/")
    assert response.status_code == 200
    assert body(response)["status"] == "degraded"
    assert body(response)["checks"]["b"]["status"] == "fail"


def test_warning_critical_check_is_degraded_200(client, register):
    register("a", warns)
    response = client.get("/health/")
    assert response.status_code == 200
    assert body(response)["status"] == "degraded"
    assert body(response)["checks"]["a"]["status"] == "warn"


def test_failing_critical_check_is_unhealthy_503(client, register):
    register("a", fails)
    register("b", ok, critical=False)
    response = client.get("/health/")
    assert response.status_code == 503
    assert body(response)["status"] == "unhealthy"


def test_ready_runs_only_critical_checks(client, register):
    calls = []
    register("critical", ok)
    register("optional", lambda: calls.append(1), critical=False)
    response = client.get("/health/ready/")
    assert response.status_code == 200
    assert list(body(response)["checks"]) == ["critical"]
    assert calls == []


def test_ready_is_503_when_a_critical_check_fails(client, register):
    register("a", fails)
    response = client.get("/health/ready/")
    assert response.status_code == 503
    assert body(response)["status"] == "unhealthy"


def test_ready_ignores_a_failing_non_critical_check(client, register):
    register("a", ok)
    register("b", fails, critical=False)
    assert client.get("/health/ready/").status_code == 200


def test_unexpected_exception_is_a_failure_and_is_logged(client, register, caplog):
    register("a", lambda: 1 / 0)
    with caplog.at_level(logging.WARNING, logger="django_prodkit.health"):
        response = client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 503
    assert body(response)["checks"]["a"]["message"] == (
        "ZeroDivisionError: division by zero"
    )
    assert "Health check a raised" in caplog.text


def test_anonymous_output_has_statuses_only(client, register):
    register("a", ok)
    register("b", fails, critical=False)
    data = body(client.get("/health/"))
    assert set(data) == {"status", "checks"}
    for check in data["checks"].values():
        assert set(check) == {"status", "latency_ms", "critical"}
    assert "connection" not in json.dumps(data)


def test_token_shows_messages_details_and_versions_but_never_secrets(client, register):
    register("a", ok)
    register("b", fails, critical=False)
    response = client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    data = body(response)
    assert data["checks"]["a"]["details"] == {"version": "1.2.3"}
    assert data["checks"]["b"]["message"].startswith("connection to postgres://app:")
    assert SECRET not in response.content.decode()
    assert TOKEN not in response.content.decode()
    assert {"hostname", "uptime_seconds", "memory_rss_mb", "versions"} <= set(data)
    assert set(data["versions"]) == {"python", "django", "django_prodkit"}


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer",
        "Bearer \u00e9t\u00e9",
    ],
)
def test_wrong_or_malformed_token_gets_anonymous_output(client, register, header):
    register("b", fails, critical=False)
    data = body(client.get("/health/", HTTP_AUTHORIZATION=header))
    assert "message" not in data["checks"]["b"]
    assert "versions" not in data


def test_no_token_configured_means_no_bearer_access(client, register, settings):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "TOKEN": None}}
    register("b", fails, critical=False)
    data = body(client.get("/health/", HTTP_AUTHORIZATION="Bearer "))
    assert "message" not in data["checks"]["b"]


@pytest.mark.django_db
def test_staff_user_sees_details(client, register, django_user_model):
    register("b", fails, critical=False)
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    client.force_login(staff)
    assert "message" in body(client.get("/health/"))["checks"]["b"]


@pytest.mark.django_db
def test_logged_in_non_staff_user_gets_anonymous_output(
    client, register, django_user_model
):
    register("b", fails, critical=False)
    client.force_login(django_user_model.objects.create_user("someone"))
    assert "message" not in body(client.get("/health/"))["checks"]["b"]


@pytest.mark.parametrize("url", ["/health/live/", "/health/ready/", "/health/"])
def test_only_get_and_head_are_allowed(client, url):
    assert client.post(url).status_code == 405
    assert client.head(url).status_code == 200


@pytest.mark.parametrize("url", ["/health/live/", "/health/ready/", "/health/"])
def test_endpoints_are_404_when_health_is_disabled(client, settings, url):
    settings.PRODKIT = {"HEALTH": {"ENABLED": False}}
    assert client.get(url).status_code == 404


def test_endpoints_work_with_login_required_middleware(client, settings, register):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    register("a", ok)
    assert client.get("/health/live/").status_code == 200
    assert client.get("/health/ready/").status_code == 200
    assert client.get("/health/").status_code == 200


def test_health_answers_under_asgi(async_client, register):
    register("a", ok)
    register("b", fails, critical=False)
    response = async_to_sync(async_client.get)("/health/")
    assert response.status_code == 200
    assert body(response)["status"] == "degraded"
