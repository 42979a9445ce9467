"""The example served by a plain WSGI server (not runserver), with DEBUG off."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.example_project.runner import EXAMPLE_DIR, example_env, run

# wsgiref, not runserver: WhiteNoise must serve the admin's CSS under any WSGI server.
HEALTH_TOKEN = "example-test-token-" + "x" * 24
DETAILED_KEYS = {"hostname", "uptime_seconds", "memory_rss_mb", "versions"}

# A thread per request, as production servers have, so that concurrent clients overlap.
_SERVE = """
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from django.core.wsgi import get_wsgi_application

class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass  # The app logs each request itself.

class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

server = make_server(
    "127.0.0.1", 0, get_wsgi_application(),
    server_class=ThreadingServer, handler_class=QuietHandler,
)
print(server.server_port, flush=True)
server.serve_forever()
"""


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def get(
        self,
        path: str,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        headers = dict(headers or {})
        if request_id:
            headers["X-Request-ID"] = request_id
        request = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if needle in line]


@contextmanager
def _serve(folder: Path, **env_vars: str) -> Iterator[Server]:
    env = example_env(
        folder / "db.sqlite3",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        **env_vars,
    )
    run(["manage.py", "migrate", "--no-input"], env)
    log = folder / "server.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVE],
            cwd=EXAMPLE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port, log.read_text()
        yield Server(f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _serve(tmp_path_factory.mktemp("example")) as served:
        yield served


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("example-token")
    with _serve(folder, PRODKIT_HEALTH_TOKEN=HEALTH_TOKEN) as served:
        yield served


def test_index_lists_the_demo_urls(server):
    status, _headers, body = server.get("/")
    assert status == 200
    assert {
        "/demo/ping/",
        "/demo/boom/",
        "/demo/slow/",
        "/health/live/",
        "/health/ready/",
        "/health/",
        "/admin/",
    } <= set(json.loads(body)["endpoints"])


def test_ping_answers_pong(server):
    status, headers, body = server.get("/demo/ping/")
    assert (status, json.loads(body)) == (200, {"pong": True})
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-ID"]


def test_ping_is_rate_limited_per_client_ip_with_both_header_styles(
    tmp_path: Path,
) -> None:
    # A server of its own, so that no other test has used part of this minute's quota.
    with _serve(tmp_path) as server:
        answers = [server.get("/demo/ping/") for _ in range(11)]
    for remaining, (status, headers, _body) in zip(
        range(9, -1, -1), answers, strict=False
    ):
        assert status == 200
        assert headers["RateLimit-Limit"] == headers["X-RateLimit-Limit"] == "10"
        assert headers["RateLimit-Remaining"] == str(remaining)
        assert headers["X-RateLimit-Remaining"] == str(remaining)
        assert "RateLimit-Policy" not in headers  # Only the styles the example chose.
    status, headers, body = answers[10]
    assert status == 429
    retry_after = json.loads(body)["retry_after"]
    assert json.loads(body) == {"error": "rate_limited", "retry_after": retry_after}
    assert headers["Retry-After"] == str(retry_after)
    assert 1 <= retry_after <= 60
    assert headers["X-RateLimit-Remaining"] == headers["RateLimit-Remaining"] == "0"


def test_pages_carry_the_security_headers_and_a_report_only_policy(server):
    status, headers, _body = server.get("/admin/login/")
    assert status == 200
    policy = headers["Content-Security-Policy-Report-Only"]
    assert "'strict-dynamic'" in policy
    assert "report-uri /csp-report/" in policy
    assert "report-to csp-endpoint" in policy
    assert "Content-Security-Policy" not in headers  # Report-only: nothing blocked.
    assert headers["Reporting-Endpoints"] == (
        f'csp-endpoint="{server.url}/csp-report/"'
    )
    assert headers["Permissions-Policy"].startswith("camera=()")
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert headers["X-XSS-Protection"] == "0"


def test_csp_reports_are_accepted(server):
    report = {
        "csp-report": {
            "document-uri": f"{server.url}/admin/login/?next=/admin/",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "blocked-uri": "inline",
        }
    }
    request = urllib.request.Request(
        server.url + "/csp-report/",
        data=json.dumps(report).encode(),
        headers={"Content-Type": "application/csp-report"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def test_boom_is_a_json_500_carrying_the_request_id(server):
    status, headers, body = server.get("/demo/boom/")
    assert status == 500
    assert json.loads(body) == {
        "error": "server_error",
        "request_id": headers["X-Request-ID"],
    }


def test_boom_traceback_is_logged_with_the_request_id(server):
    request_id = f"test-{uuid.uuid4()}"
    server.get("/demo/boom/", request_id)
    assert "RuntimeError: boom" in server.log.read_text()
    [error, access] = server.log_lines(request_id)
    assert "ERROR django.request" in error
    assert (
        f"WARNING django_prodkit.request [{request_id}] GET /demo/boom/ 500" in access
    )


def test_slow_runs_one_query_of_at_least_250_ms(server):
    started = time.perf_counter()
    status, _headers, body = server.get("/demo/slow/")
    elapsed = time.perf_counter() - started
    assert status == 200
    assert elapsed >= 0.25
    assert json.loads(body)["query_ms"] >= 250


def test_each_request_is_logged_once(server):
    request_id = f"test-{uuid.uuid4()}"
    status, headers, _body = server.get("/demo/ping/", request_id)
    assert (status, headers["X-Request-ID"]) == (200, request_id)
    [line] = server.log_lines(request_id)
    assert f"INFO django_prodkit.request [{request_id}] GET /demo/ping/ 200" in line


def test_whitenoise_serves_admin_css_with_debug_off(server):
    status, headers, body = server.get("/static/admin/css/base.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "max-age" in headers["Cache-Control"]  # set by WhiteNoise, not by Django
    assert headers["X-Request-ID"]
    assert body


def test_admin_login_page_is_served(server):
    status, _headers, body = server.get("/admin/login/")
    assert status == 200
    assert b"/static/admin/css/base.css" in body


def _health(server: Server, path: str, **headers: str) -> dict[str, Any]:
    status, response_headers, body = server.get(path, headers=headers)
    assert status == 200, body
    assert response_headers["Content-Type"] == "application/json"
    assert response_headers["Cache-Control"] == "no-store"
    document: dict[str, Any] = json.loads(body)
    return document


def test_health_live_answers_ok(server):
    assert _health(server, "/health/live/") == {"status": "ok"}


def test_health_ready_runs_the_critical_checks_with_statuses_only(server):
    document = _health(server, "/health/ready/")
    assert set(document) == {"status", "checks"}
    assert document["status"] in {"healthy", "degraded"}
    assert {"database:default", "cache:default"} <= set(document["checks"])
    for result in document["checks"].values():
        assert set(result) == {"status", "latency_ms", "critical"}
        assert result["critical"] is True


def test_health_shows_every_check_without_messages_to_anonymous_callers(server):
    document = _health(server, "/health/")
    assert set(document) == {"status", "checks"}
    assert document["status"] in {"healthy", "degraded"}
    checks = document["checks"]
    assert set(checks) == {
        "database:default",
        "cache:default",
        "migrations:default",
        "disk:/",
        "memory",
        "ratelimit",  # RateLimitMiddleware is in MIDDLEWARE.
    }
    assert checks["migrations:default"]["status"] == "ok"
    for result in checks.values():
        assert set(result) == {"status", "latency_ms", "critical"}


def test_health_token_shows_messages_details_and_versions(token_server):
    document = _health(token_server, "/health/", Authorization=f"Bearer {HEALTH_TOKEN}")
    assert set(document) == {"status", "checks", *DETAILED_KEYS}
    assert set(document["versions"]) == {"python", "django", "django_prodkit"}
    assert all("message" in result for result in document["checks"].values())
    assert document["checks"]["database:default"]["details"]["vendor"] == "sqlite"


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {HEALTH_TOKEN}x", "Bearer wrong", f"Basic {HEALTH_TOKEN}", "Bearer"],
)
def test_health_wrong_token_gets_statuses_only(token_server, authorization):
    document = _health(token_server, "/health/", Authorization=authorization)
    assert set(document) == {"status", "checks"}
    assert all("message" not in result for result in document["checks"].values())


def test_health_token_is_never_logged(token_server):
    _health(token_server, "/health/", Authorization=f"Bearer {HEALTH_TOKEN}")
    assert HEALTH_TOKEN not in token_server.log.read_text()
