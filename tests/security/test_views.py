from __future__ import annotations

import asyncio
import json
import logging

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections, connection
from django.test import Client

from django_prodkit.security.models import CSPReport
from django_prodkit.security.views import csp_report

URL = "/csp-report/"
LEGACY = "application/csp-report"
REPORTS = "application/reports+json"

pytestmark = pytest.mark.django_db


def legacy(**overrides):
    report = {
        "document-uri": "https://shop.example/cart/?session=abc123#pay",
        "referrer": "https://shop.example/?token=xyz",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": "script-src 'nonce-abc' 'strict-dynamic'",
        "disposition": "enforce",
        "blocked-uri": "https://cdn.evil.example/x.js?k=secret",
        "line-number": 12,
        "source-file": "https://shop.example/static/app.js?v=3",
        "status-code": 200,
        "script-sample": "",
    }
    report.update(overrides)
    return {"csp-report": report}


def reporting_api(**overrides):
    body = {
        "documentURL": "https://shop.example/account/?reset=tok3n",
        "referrer": "",
        "blockedURL": "inline",
        "effectiveDirective": "script-src-elem",
        "originalPolicy": "script-src 'nonce-abc' 'strict-dynamic'; report-to csp-endpoint",
        "sourceFile": "https://shop.example/account/",
        "sample": "alert(1)",
        "disposition": "report",
        "statusCode": 200,
        "lineNumber": 3,
        "columnNumber": 7,
    }
    body.update(overrides)
    return {
        "type": "csp-violation",
        "age": 10,
        "url": "https://shop.example/account/",
        "user_agent": "Mozilla/5.0",
        "body": body,
    }


def post(client, data, content_type=LEGACY):
    body = data if isinstance(data, bytes | str) else json.dumps(data)
    return client.post(URL, body, content_type=content_type)


def test_legacy_report_is_stored(client):
    response = post(client, legacy())

    assert response.status_code == 204
    assert response.content == b""
    report = CSPReport.objects.get()
    assert report.directive == "script-src-elem"
    assert report.blocked_uri == "https://cdn.evil.example/x.js"
    assert report.document_uri == "https://shop.example/cart/"
    assert report.source_file == "https://shop.example/static/app.js"
    assert report.line_number == 12
    assert report.disposition == "enforce"
    assert report.count == 1
    assert report.first_seen == report.last_seen
    assert len(report.fingerprint) == 64


def test_reporting_api_batch_is_stored_and_other_types_ignored(client):
    batch = [
        reporting_api(),
        {"type": "deprecation", "url": "https://shop.example/", "body": {"id": "x"}},
        reporting_api(
            blockedURL="https://ads.example/a.js", effectiveDirective="script-src"
        ),
    ]
    response = post(client, batch, REPORTS)

    assert response.status_code == 204
    rows = {report.blocked_uri: report for report in CSPReport.objects.all()}
    assert set(rows) == {"inline", "https://ads.example/a.js"}
    inline = rows["inline"]
    assert (inline.directive, inline.disposition, inline.line_number) == (
        "script-src-elem",
        "report",
        3,
    )
    assert inline.document_uri == "https://shop.example/account/"
    assert inline.sample["sample"] == "alert(1)"


def test_only_other_report_types_is_accepted(client):
    response = post(client, [{"type": "intervention", "body": {}}], REPORTS)
    assert response.status_code == 204
    assert not CSPReport.objects.exists()


@pytest.mark.parametrize("data", [legacy(), [reporting_api()]])
def test_plain_json_content_type_is_accepted(client, data):
    assert post(client, data, "application/json").status_code == 204
    assert CSPReport.objects.count() == 1


def test_same_report_twice_is_one_group_counted_twice(client):
    post(client, legacy())
    post(client, legacy(**{"document-uri": "https://shop.example/cart/?other=1"}))

    report = CSPReport.objects.get()
    assert report.count == 2
    assert report.last_seen > report.first_seen


def test_same_report_twice_in_one_batch(client):
    post(client, [reporting_api(), reporting_api(lineNumber=4)], REPORTS)

    report = CSPReport.objects.get()
    assert (report.count, report.line_number) == (2, 4)


def test_report_only_and_enforced_violations_are_separate_groups(client):
    post(client, legacy())
    post(client, legacy(disposition="report"))

    assert sorted(CSPReport.objects.values_list("disposition", "count")) == [
        ("enforce", 1),
        ("report", 1),
    ]


def test_groups_per_request_are_capped(client):
    batch = [reporting_api(blockedURL=f"https://x{n}.example/") for n in range(25)]
    assert post(client, batch, REPORTS).status_code == 204
    assert CSPReport.objects.count() == 20


def test_query_strings_fragments_and_credentials_are_not_stored(client):
    post(
        client,
        legacy(**{"blocked-uri": "https://user:pw@cdn.example/a.js?token=t0k#f"}),
    )

    report = CSPReport.objects.get()
    assert report.blocked_uri == "https://cdn.example/a.js"
    stored = json.dumps(report.sample)
    for secret in ("abc123", "xyz", "secret", "t0k", "pw@", "#pay"):
        assert secret not in stored
    assert report.sample["referrer"] == "https://shop.example/"


def test_data_uris_keep_only_their_scheme(client):
    post(client, legacy(**{"blocked-uri": "data:text/javascript;base64,YWxlcnQoMSk="}))
    assert CSPReport.objects.get().blocked_uri == "data"


def test_old_violated_directive_is_reduced_to_its_name(client):
    report = legacy(**{"violated-directive": "script-src 'self' https://a.example"})
    del report["csp-report"]["effective-directive"]
    post(client, report)
    assert CSPReport.objects.get().directive == "script-src"


def test_long_uris_are_truncated(client):
    post(client, legacy(**{"blocked-uri": "https://a.example/" + "x" * 1000}))
    assert len(CSPReport.objects.get().blocked_uri) == 500


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", LEGACY),
        (b"\xff\xfe", LEGACY),
        (b"[" * 100_000 + b"]" * 100_000, REPORTS),
        (json.dumps({"csp-report": "text"}), LEGACY),
        (json.dumps([1, 2]), LEGACY),
        (json.dumps({"no": "report"}), LEGACY),
        (json.dumps({"csp-report": {"blocked-uri": "inline"}}), LEGACY),
        (json.dumps({"csp-report": {"effective-directive": "<script>"}}), LEGACY),
        (json.dumps({"type": "csp-violation"}), REPORTS),
        (json.dumps(["text"]), REPORTS),
        (json.dumps([{"type": "csp-violation", "body": []}]), REPORTS),
    ],
)
def test_malformed_report_is_400(client, settings, body, content_type):
    settings.PRODKIT = {"SECURITY": {"CSP_REPORT_MAX_BYTES": 1048576}}
    response = post(client, body, content_type)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_report"
    assert response.json()["message"]
    assert not CSPReport.objects.exists()


def test_empty_body_is_400(rf):
    request = rf.generic("POST", URL, b"", CONTENT_TYPE=LEGACY)
    response = csp_report(request)
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "bad_report"


def test_one_bad_report_in_a_batch_rejects_the_batch(client):
    batch = [reporting_api(), {"type": "csp-violation", "body": {"blockedURL": "x"}}]
    assert post(client, batch, REPORTS).status_code == 400
    assert not CSPReport.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded"]
)
def test_wrong_content_type_is_415(client, content_type):
    response = post(client, json.dumps(legacy()), content_type)

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_are_405(client, method):
    response = getattr(client, method)(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_oversized_report_is_413(client, settings):
    settings.PRODKIT = {"SECURITY": {"CSP_REPORT_MAX_BYTES": 1024}}
    body = json.dumps(legacy(**{"script-sample": "x" * 1024}))

    response = post(client, body)

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert not CSPReport.objects.exists()


def test_report_at_the_limit_is_accepted(client, settings):
    settings.PRODKIT = {"SECURITY": {"CSP_REPORT_MAX_BYTES": 1024}}
    body = json.dumps(legacy())
    body = body[:-2] + ", " + '"x": "' + "y" * (1024 - len(body) - 9) + '"}}'
    assert len(body) == 1024

    assert post(client, body).status_code == 204


def test_oversized_report_without_content_length_is_413(settings):
    """Under ASGI a chunked body has no Content-Length: the read itself is bounded."""
    settings.PRODKIT = {"SECURITY": {"CSP_REPORT_MAX_BYTES": 1024}}
    chunks = [b'{"csp-report": {"blocked-uri": "', b"x" * 4096, b'"}}']
    status, body = async_to_sync(_asgi_post)(chunks)

    assert status == 413
    assert json.loads(body)["error"] == "too_large"


def test_small_report_without_content_length_is_stored(settings):
    chunks = [json.dumps(legacy()).encode()[:50], json.dumps(legacy()).encode()[50:]]
    status, _body = async_to_sync(_asgi_post)(chunks)

    assert status == 204
    assert CSPReport.objects.count() == 1


async def _asgi_post(chunks):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", LEGACY.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        # The client stays connected: Django cancels this wait when it has answered.
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    # As Django's test clients do: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        await ASGIHandler()(scope, receive, send)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    return start["status"], body


def test_bad_content_length_is_400(rf):
    request = rf.post(URL, json.dumps(legacy()), content_type=LEGACY)
    request.META["CONTENT_LENGTH"] = "lots"

    response = csp_report(request)

    assert response.status_code == 400


def test_csrf_token_is_not_needed(settings):
    client = Client(enforce_csrf_checks=True)
    assert post(client, legacy()).status_code == 204


def test_login_is_not_required(client, settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    assert post(client, legacy()).status_code == 204


def test_rate_limited_after_the_configured_rate(client, settings):
    settings.PRODKIT = {"SECURITY": {"CSP_REPORT_RATE": "2/m"}}

    statuses = [post(client, legacy()).status_code for _ in range(3)]

    assert statuses == [204, 204, 429]
    response = post(client, legacy())
    assert response.json()["error"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    assert CSPReport.objects.get().count == 2


def test_disabled_endpoint_is_404(client, settings):
    settings.PRODKIT = {"SECURITY": {"ENABLED": False}}
    assert post(client, legacy()).status_code == 404


def test_database_failure_is_logged_not_500(client, caplog):
    def broken(execute, sql, params, many, context):
        raise OperationalError("the database went away")

    with (
        caplog.at_level(logging.WARNING, "django_prodkit.security"),
        connection.execute_wrapper(broken),
    ):
        response = post(client, legacy())

    assert response.status_code == 204
    [record] = caplog.records
    assert "CSP report not stored" in record.getMessage()
    assert "https://cdn.evil.example/x.js" in record.getMessage()
    assert "secret" not in record.getMessage()


def test_atomic_requests_do_not_wrap_the_writes(client, settings):
    settings.DATABASES["default"]["ATOMIC_REQUESTS"] = True
    try:
        assert post(client, legacy()).status_code == 204
    finally:
        settings.DATABASES["default"]["ATOMIC_REQUESTS"] = False
    assert CSPReport.objects.count() == 1
