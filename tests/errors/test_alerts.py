from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import django
import pytest
from django.db import connection
from django.test import Client

from django_prodkit import errors
from django_prodkit.errors import alerts
from django_prodkit.errors.models import ErrorGroup
from tests.processes import run_together
from tests.ratelimit.servers import ROOT, free_port
from tests.services import BROKER_URL

pytestmark = pytest.mark.django_db(transaction=True)

ALERT_LOGGER = "django_prodkit.errors.alerts"
TOKEN = "T000-B000-s3cr3t-token"
# Django 6.0 takes plain addresses and deprecates (name, address) pairs; 5.2 needs pairs.
ADMINS = (
    ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
)


class Webhook:
    """A local HTTP server that records each POST and answers ``status`` after ``delay``."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(body),
                    }
                )
                hook._stop.wait(delay)
                with contextlib.suppress(OSError):  # The client may have given up.
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [request["json"] for request in self.requests]

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@contextlib.contextmanager
def webhook(status: int = 200, delay: float = 0.0) -> Iterator[Webhook]:
    server = Webhook(status, delay)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_cooldowns(settings) -> Iterator[None]:
    """Each test gets an empty alert cache, and this process forgets its fallback."""
    settings.CACHES = {
        **settings.CACHES,
        "alerts": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"alerts-{uuid.uuid4().hex}",
        },
    }
    alerts.reset()
    yield
    alerts.reset()


def configure(settings, **options: Any) -> None:
    settings.PRODKIT = {
        "ERRORS": {
            "ALERTS": {"CACHE": "alerts", **{k.upper(): v for k, v in options.items()}}
        }
    }


class PaymentFailed(Exception):
    pass


def occur(message: str = "card 4242 declined", severity: str = "error") -> str:
    """One occurrence of the same error, written before returning; its fingerprint."""
    try:
        raise PaymentFailed(message)
    except PaymentFailed as error:
        fingerprint = errors.capture_exception(error, severity=severity)
    assert fingerprint is not None
    assert errors.flush()
    return fingerprint


def alert_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == ALERT_LOGGER and record.levelno >= logging.WARNING
    ]


# Deciding -------------------------------------------------------------------------


def test_new_group_is_posted_to_the_webhook_as_slack_compatible_json(settings, hook):
    configure(settings, webhook_url=hook.url)

    fingerprint = occur()

    [request] = hook.requests
    assert request["path"] == f"/hooks/{TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["json"]
    assert body["text"] == (
        "New error: tests.errors.test_alerts.PaymentFailed: card 4242 declined "
        "(error, 1 occurrence)"
    )
    group = ErrorGroup.objects.get()
    assert body["prodkit"] == {
        "reason": "new",
        "id": group.pk,
        "fingerprint": fingerprint,
        "exception_type": "tests.errors.test_alerts.PaymentFailed",
        "message": "card 4242 declined",
        "culprit": group.culprit,
        "severity": "error",
        "status": "unresolved",
        "count": 1,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "times_regressed": 0,
        "rate": None,
        "request_method": "",
        "request_path": "",
        "request_route": "",
        "request_id": "",
    }


def test_new_group_is_mailed_to_admins(settings, mailoutbox):
    settings.ADMINS = ADMINS
    configure(settings, mail_admins=True)

    occur()

    [mail] = mailoutbox
    assert mail.to == ["ops@example.com"]
    assert mail.subject == (
        "[Django] New error: tests.errors.test_alerts.PaymentFailed: card 4242 declined"
    )
    assert "Occurrences: 1" in mail.body
    assert "raise PaymentFailed(message)" in mail.body  # The traceback.


def test_group_is_alerted_once_per_cooldown_however_often_it_occurs(settings, hook):
    # Every occurrence is over the rate: only the cooldown keeps the later ones quiet.
    configure(settings, webhook_url=hook.url, rate="1/h")

    for _ in range(3):
        occur()

    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["new"]
    assert ErrorGroup.objects.get().count == 3


def test_group_is_alerted_again_once_the_cooldown_is_over(settings, hook):
    configure(settings, webhook_url=hook.url, rate="1/h", cooldown=1)

    occur()
    time.sleep(1.1)
    occur()

    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["new", "rate"]


def test_regression_is_alerted_even_within_the_cooldown(settings, hook):
    configure(settings, webhook_url=hook.url, rate="1/h")
    occur()
    ErrorGroup.objects.update(status=ErrorGroup.Status.RESOLVED)

    occur()
    occur()  # Over the rate, but within the regression's own cooldown.

    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["new", "regression"]
    assert hook.bodies[1]["prodkit"]["times_regressed"] == 1
    assert hook.bodies[1]["text"].startswith("Regression: ")


@pytest.mark.parametrize(
    ("option", "prepare"),
    [("on_new", False), ("on_regression", True)],
)
def test_switched_off_reasons_are_not_alerted(settings, hook, option, prepare):
    if prepare:  # A resolved group, stored before alerts were configured.
        occur()
        ErrorGroup.objects.update(status=ErrorGroup.Status.RESOLVED)
    configure(settings, webhook_url=hook.url, **{option: False})

    occur()

    assert hook.requests == []


@pytest.mark.parametrize(
    ("severity", "minimum", "alerted"),
    [
        ("warning", "error", False),
        ("error", "error", True),
        ("error", "critical", False),
        ("critical", "critical", True),
        ("warning", "warning", True),
    ],
)
def test_only_groups_at_or_above_min_severity_are_alerted(
    settings, hook, severity, minimum, alerted
):
    configure(settings, webhook_url=hook.url, min_severity=minimum)

    occur(severity=severity)

    assert len(hook.requests) == int(alerted)


def test_group_is_alerted_when_its_rate_crosses_the_threshold(settings, hook):
    configure(settings, webhook_url=hook.url, on_new=False, rate="3/h")

    occur()
    occur()
    assert hook.requests == []
    occur()

    [body] = hook.bodies
    assert (body["prodkit"]["reason"], body["prodkit"]["rate"]) == ("rate", "3/h")
    assert body["text"].startswith("Error rate over 3/h: ")


def test_occurrences_written_together_count_towards_the_rate(settings, hook):
    configure(settings, webhook_url=hook.url, on_new=False, rate="3/h")

    for _ in range(3):
        errors.capture_exception(PaymentFailed("card 4242 declined"))
    assert errors.flush()

    assert [body["prodkit"]["count"] for body in hook.bodies] == [3]


def test_ignored_group_is_never_alerted(settings, hook):
    occur()  # Stored while no channel is configured.
    ErrorGroup.objects.update(status=ErrorGroup.Status.IGNORED)
    configure(settings, webhook_url=hook.url, rate="1/h")

    occur()

    assert hook.requests == []
    assert ErrorGroup.objects.get().count == 2


def test_without_a_channel_nothing_is_sent_and_no_cooldown_is_spent(
    settings, hook, mailoutbox
):
    settings.ADMINS = ADMINS
    configure(settings, rate="1/h")
    occur()
    assert mailoutbox == []

    configure(settings, webhook_url=hook.url, rate="1/h")
    occur()

    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["rate"]


def test_disabled_alerts_send_nothing(settings, hook, mailoutbox):
    settings.ADMINS = ADMINS
    configure(settings, enabled=False, webhook_url=hook.url, mail_admins=True)

    occur()

    assert (hook.requests, mailoutbox) == ([], [])


# Channels -------------------------------------------------------------------------


def test_alert_goes_to_every_configured_channel(settings, hook, mailoutbox):
    settings.ADMINS = ADMINS
    configure(settings, webhook_url=hook.url, mail_admins=True)

    occur()

    assert (len(hook.requests), len(mailoutbox)) == (1, 1)


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="MAILERS is new in Django 6.1")
def test_mailer_is_ignored_before_django_6_1(settings, mailoutbox):
    settings.ADMINS = ADMINS
    configure(settings, mail_admins=True, mailer="alerts")

    occur()

    assert len(mailoutbox) == 1


@pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1")
def test_mail_goes_through_the_configured_mailer(settings, mailoutbox):
    backend = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    settings.MAILERS = {"default": backend, "alerts": backend}
    settings.ADMINS = ADMINS
    configure(settings, mail_admins=True, mailer="alerts")

    occur()

    [mail] = mailoutbox
    assert mail.sent_using == "alerts"


def test_failing_mail_is_logged_and_the_webhook_still_gets_the_alert(
    settings, hook, caplog
):
    settings.ADMINS = ADMINS
    # A mail server that refuses connections.
    smtp, port = "django.core.mail.backends.smtp.EmailBackend", free_port()
    if django.VERSION >= (6, 1):
        options = {"host": "127.0.0.1", "port": port}
        settings.MAILERS = {"default": {"BACKEND": smtp, "OPTIONS": options}}
    else:
        settings.EMAIL_BACKEND = smtp
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    configure(settings, webhook_url=hook.url, mail_admins=True)

    occur()

    assert len(hook.requests) == 1
    [record] = alert_logs(caplog)
    assert record.getMessage().startswith("alert mail for error group ")


@contextlib.contextmanager
def failing_webhook(kind: str) -> Iterator[str]:
    if kind == "refused":
        yield f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}"
        return
    status, delay = (500, 0.0) if kind == "500" else (200, 5.0)
    with webhook(status, delay) as server:
        yield server.url
        assert len(server.requests) == 1


@pytest.mark.urls("tests.errors.alert_urls")
@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("500", "HTTP 500"),
        ("refused", "ConnectionRefusedError: "),
        ("timeout", "TimeoutError: "),
    ],
)
def test_failing_webhook_is_logged_once_and_the_request_still_gets_its_500(
    settings, caplog, kind, problem
):
    client = Client(raise_request_exception=False)
    with failing_webhook(kind) as url:
        configure(settings, webhook_url=url, webhook_timeout=0.5)

        started = time.monotonic()
        response = client.get("/checkout/")
        elapsed = time.monotonic() - started
        assert errors.flush()

    assert response.status_code == 500
    assert elapsed < 0.5  # The request never waits for the webhook.
    [record] = alert_logs(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("alert webhook for error group ")
    assert problem in record.getMessage()
    assert TOKEN not in caplog.text
    assert ErrorGroup.objects.get().request_route == "checkout/"


@pytest.mark.urls("tests.errors.alert_urls")
def test_request_fields_are_in_the_alert(settings, hook):
    configure(settings, webhook_url=hook.url)

    Client(raise_request_exception=False).get(
        "/checkout/", headers={"X-Request-ID": "req-123"}
    )
    assert errors.flush()

    [body] = hook.bodies
    fields = body["prodkit"]
    assert (fields["request_method"], fields["request_path"]) == ("GET", "/checkout/")
    assert (fields["request_route"], fields["request_id"]) == ("checkout/", "req-123")
    assert body["text"].endswith(
        ": payment provider answered 502 — GET /checkout/ (error, 1 occurrence)"
    )


def test_slack_markup_characters_are_escaped_in_the_text(settings, hook):
    configure(settings, webhook_url=hook.url)

    occur("<!channel> & friends")

    [body] = hook.bodies
    assert "&lt;!channel&gt; &amp; friends" in body["text"]
    assert body["prodkit"]["message"] == "<!channel> & friends"


# The alert cache ------------------------------------------------------------------


def test_unreachable_alert_cache_falls_back_to_a_cooldown_in_this_process(
    settings, hook, caplog
):
    pytest.importorskip("django_redis")
    settings.CACHES = {
        **settings.CACHES,
        "alerts": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    configure(settings, webhook_url=hook.url, rate="1/h")

    for _ in range(4):
        occur()

    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["new"]
    [record] = [r for r in alert_logs(caplog) if "unavailable" in r.getMessage()]
    assert record.getMessage().startswith("alert cache 'alerts' is unavailable (")


def run_two_instances(
    tmp_path: Path, webhook_url: str, redis_url: str = "", key_prefix: str = ""
) -> list[dict[str, Any]]:
    """Two site processes record the same error at the same moment, in one database;
    their outputs."""
    if connection.vendor == "postgresql":
        database = {
            key: connection.settings_dict[key]
            for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
        }
    else:  # The suite's SQLite database is in memory: the processes get a file.
        database = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(tmp_path / "db.sqlite3"),
        }
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.errors.alert_process_settings",
        "PYTHONPATH": str(ROOT),
        "PRODKIT_TEST_DATABASE": json.dumps(database),
        "PRODKIT_TEST_WEBHOOK_URL": webhook_url,
        "PRODKIT_TEST_REDIS_URL": redis_url,
        "PRODKIT_TEST_KEY_PREFIX": key_prefix,
    }
    command = [sys.executable, "-m", "tests.errors.alert_process"]
    if connection.vendor != "postgresql":
        subprocess.run(
            [*command, "migrate"], env=environment, cwd=ROOT, check=True, timeout=60
        )
    outputs = run_together("tests.errors.alert_process", environment)
    if connection.vendor == "postgresql":
        stored = list(ErrorGroup.objects.values_list("count", flat=True))
    else:
        with contextlib.closing(sqlite3.connect(database["NAME"])) as db:
            stored = [
                row[0] for row in db.execute("SELECT count FROM prodkit_errorgroup")
            ]
    assert stored == [2]  # One group, written by both.
    return [json.loads(output) for output in outputs]


@pytest.mark.redis
def test_cooldown_is_shared_by_two_processes_through_redis(
    tmp_path, hook, redis_db, key_prefix
):
    first, second = run_two_instances(tmp_path, hook.url, redis_db, key_prefix)

    assert first["fingerprint"] == second["fingerprint"]
    assert first["flushed"]
    assert second["flushed"]
    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["rate"]


def test_processes_with_a_cache_of_their_own_each_alert(tmp_path, hook):
    # The counterpart of the test above: without a shared cache, each process alerts.
    first, second = run_two_instances(tmp_path, hook.url)

    assert first["fingerprint"] == second["fingerprint"]
    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["rate", "rate"]


# Celery ---------------------------------------------------------------------------


@pytest.fixture
def celery_app() -> Iterator[Any]:
    celery = pytest.importorskip("celery")
    from celery import _state

    previous = _state.default_app
    app = celery.Celery("prodkit-alert-tests", set_as_current=False)
    app.set_default()  # The writer's thread has no current app: it uses the default.
    try:
        yield app
    finally:
        _state.set_default_app(previous)
        app.close()


def test_celery_mode_sends_through_the_task(settings, hook, celery_app):
    from celery.signals import task_prerun

    celery_app.conf.task_always_eager = True
    configure(settings, webhook_url=hook.url, celery=True)
    ran: list[tuple[str, Any]] = []

    def record(sender: Any, args: Any, **kwargs: Any) -> None:
        ran.append((sender.name, args))

    task_prerun.connect(record, weak=False)
    try:
        fingerprint = occur()
    finally:
        task_prerun.disconnect(record)

    [(name, [payload])] = [(name, list(args)) for name, args in ran]
    assert name == "prodkit.errors.send_alert"
    assert json.loads(json.dumps(payload)) == payload
    assert payload["fingerprint"] == fingerprint
    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["new"]


def test_alert_is_sent_directly_when_it_cannot_be_queued(
    settings, hook, celery_app, caplog, monkeypatch
):
    # Celery prefers the CELERY_BROKER_URL environment variable to its broker_url.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    celery_app.conf.update(
        broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
        broker_connection_retry=False,
        broker_transport_options={"max_retries": 0},
        task_publish_retry=False,
    )
    configure(settings, webhook_url=hook.url, celery=True)

    occur()

    assert len(hook.requests) == 1
    [record] = alert_logs(caplog)
    assert "could not be queued (OperationalError: " in record.getMessage()


@pytest.mark.celery
def test_celery_mode_queues_a_json_message_on_the_broker(settings, hook, celery_app):
    queue = f"prodkit-test-alerts-{uuid.uuid4().hex[:12]}"
    celery_app.conf.update(
        broker_url=BROKER_URL, task_default_queue=queue, task_serializer="json"
    )
    configure(settings, webhook_url=hook.url, celery=True)

    fingerprint = occur()
    assert hook.requests == []  # Queued, not sent.

    from django_prodkit.tasks import send_alert

    with celery_app.connection_for_read() as broker:
        messages = broker.SimpleQueue(queue)
        try:
            message = messages.get(timeout=10)
            message.ack()
        finally:
            messages.close()
            broker.default_channel.queue_delete(queue)
    assert message.headers["task"] == "prodkit.errors.send_alert"
    assert message.content_type == "application/json"
    (payload,), _kwargs, _embed = message.decode()
    assert payload["fingerprint"] == fingerprint
    send_alert(payload)  # What a worker does with it.

    assert [body["prodkit"]["reason"] for body in hook.bodies] == ["new"]


# Robustness -----------------------------------------------------------------------


def test_receiver_logs_its_own_failure_instead_of_raising(settings, hook, caplog):
    configure(settings, webhook_url=hook.url)
    # Never saved, so never converted: the payload cannot show this date.
    broken = ErrorGroup(fingerprint="f" * 64, first_seen="yesterday")

    alerts.on_group_recorded(
        ErrorGroup, group=broken, new=True, regressed=False, occurrences=1
    )

    [record] = alert_logs(caplog)
    assert record.getMessage() == "alert for error group ffffffffffff failed"
    assert record.exc_info is not None
    assert hook.requests == []
