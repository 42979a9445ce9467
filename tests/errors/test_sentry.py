"""Sentry: events scrubbed like prodkit's own capture, linked to their groups, no network.

Every test starts Sentry through ``django_prodkit.integrations.sentry.init`` with an
in-memory transport, and tears it down again. sentry-sdk patches Django once per
process and cannot undo it; the patches do nothing without an active client, and the
``got_request_exception`` receiver it connects is removed after this module.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
import weakref
import wsgiref.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

import sentry_sdk
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception
from django.test import Client
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.transport import Transport

from django_prodkit import errors
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.integrations import sentry as prodkit_sentry
from django_prodkit.scrub import MASK

DSN = "https://public@example.invalid/1"
ROOT = Path(__file__).resolve().parents[2]
URLS = "tests.errors.sentry_views"
logger = logging.getLogger("tests.errors.sentry")


class MemoryTransport(Transport):
    """Keeps every envelope in memory instead of sending it."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []
        self.lost: list[tuple[str, str | None]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def record_lost_event(
        self, reason: str, data_category: Any = None, item: Any = None, **kwargs: Any
    ) -> None:
        self.lost.append((reason, data_category))

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == kind and item.payload.json is not None
        ]

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.items("event")

    def sent(self) -> bytes:
        """Everything that would have gone over the wire."""
        return b"".join(envelope.serialize() for envelope in self.envelopes)


@pytest.fixture(scope="module", autouse=True)
def _django_receivers() -> Iterator[None]:
    saved = list(got_request_exception.receivers)
    yield
    with got_request_exception.lock:
        got_request_exception.receivers = saved
        got_request_exception.sender_receivers_cache.clear()


@pytest.fixture
def start_sentry(monkeypatch) -> Iterator[Callable[..., MemoryTransport]]:
    for name in ("SENTRY_DSN", "SENTRY_ENVIRONMENT", "SENTRY_RELEASE"):
        monkeypatch.delenv(name, raising=False)

    def start(**options: Any) -> MemoryTransport:
        transport = MemoryTransport()
        assert prodkit_sentry.init(DSN, transport=transport, **options)
        return transport

    yield start
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    sentry_sdk.get_isolation_scope().clear()
    sentry_sdk.get_current_scope().clear()


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def error_log_handler() -> Iterator[None]:
    handler = errors.ErrorLogHandler()
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)


def wsgi(
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> str:
    """Send a request through Django's WSGI handler, where Sentry reads headers and query."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST" if body else "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        **{
            f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()
        },
    }
    wsgiref.util.setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(
        status: str, headers: Any, *args: Any
    ) -> Callable[[bytes], None]:
        statuses.append(status)
        return lambda data: None

    response = WSGIHandler()(environ, start_response)
    b"".join(response)
    response.close()
    return statuses[0]


def _order_receivers(*, sentry_first: bool) -> None:
    """Put Sentry's receiver first, as when ``init`` runs in settings.py, or last."""
    from sentry_sdk.integrations.django import _got_request_exception

    def is_sentry(entry: tuple[Any, ...]) -> bool:
        receiver = entry[1]
        if isinstance(receiver, weakref.ReferenceType):
            receiver = receiver()
        return receiver is _got_request_exception

    with got_request_exception.lock:
        ours = [entry for entry in got_request_exception.receivers if is_sentry(entry)]
        others = [
            entry for entry in got_request_exception.receivers if not is_sentry(entry)
        ]
        assert len(ours) == 1
        got_request_exception.receivers = (
            ours + others if sentry_first else others + ours
        )
        got_request_exception.sender_receivers_cache.clear()


# Linking


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sentry_first", [True, False], ids=["sentry-first", "prodkit-first"]
)
def test_request_error_records_the_sentry_event_id_on_its_group(
    start_sentry, client, sentry_first
):
    transport = start_sentry()
    _order_receivers(sentry_first=sentry_first)

    assert client.get("/boom/").status_code == 500

    assert errors.flush()
    [event] = transport.events
    [group] = ErrorGroup.objects.all()
    assert group.exception_type == "RuntimeError"
    assert group.sentry_event_id == event["event_id"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("error_log_handler")
def test_logged_error_with_exception_records_the_sentry_event_id(start_sentry):
    transport = start_sentry()

    try:
        {"present": 1}["missing"]
    except KeyError:
        logger.error("lookup failed", exc_info=True)

    assert errors.flush()
    [event] = transport.events
    [group] = ErrorGroup.objects.all()
    assert (group.source, group.exception_type) == ("log", "KeyError")
    assert group.sentry_event_id == event["event_id"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("error_log_handler")
def test_logged_error_without_exception_records_the_sentry_event_id(start_sentry):
    transport = start_sentry()

    logger.error("quota of %s exceeded", "acme")

    assert errors.flush()
    [event] = transport.events
    [group] = ErrorGroup.objects.all()
    assert (group.source, group.exception_type) == ("log", "")
    assert group.sentry_event_id == event["event_id"]


@pytest.mark.django_db(transaction=True)
def test_failed_celery_task_records_the_sentry_event_id(start_sentry):
    celery = pytest.importorskip("celery")
    app = celery.Celery("prodkit-sentry-tests", set_as_current=False)

    @app.task(name="tests.errors.sentry.charge")  # type: ignore[untyped-decorator]
    def charge() -> None:
        raise LookupError("no such card")

    transport = start_sentry()

    assert charge.apply().failed()  # Run in this process, as task_always_eager does.

    assert errors.flush()
    [event] = transport.events
    [group] = ErrorGroup.objects.all()
    assert (group.source, group.exception_type) == ("task", "LookupError")
    assert group.sentry_event_id == event["event_id"]


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_event_carries_the_request_id(start_sentry, client):
    transport = start_sentry()

    response = client.get("/boom/")

    [event] = transport.events
    assert event["tags"]["request_id"] == response["X-Request-ID"]


# Scrubbing

SECRETS = {
    "authorization": "sekrit-bearer-0001",
    "session cookie": "sekrit-session-0002",
    "csrf cookie": "sekrit-csrf-0003",
    "other cookie": "sekrit-remember-0004",
    "query token": "sekrit-query-0005",
    "form password": "sekrit-form-0006",
    "form password2": "sekrit-form-0007",
    "local api_key": "sekrit-local-0008",
    "local payment_api_key": "sekrit-local-0009",
    "hidden setting": "sekrit-setting-0011",
}


def _collect_everything() -> dict[str, Any]:
    if "data_collection" not in sentry_sdk.consts.DEFAULT_OPTIONS:
        pytest.skip("this sentry-sdk has no data_collection option")
    # The user opts into collecting all: Sentry's own scrubber is then off.
    return {"data_collection": {"user_info": True, "cookies": {"mode": "denylist"}}}


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "collect_everything", [False, True], ids=["default", "all-data"]
)
def test_no_secret_leaves_in_a_request_error(
    start_sentry, settings, collect_everything
):
    settings.STRIPE_SECRET_KEY = SECRETS["hidden setting"]
    transport = start_sentry(**(_collect_everything() if collect_everything else {}))

    status = wsgi(
        "/leaky/",
        query=f"token={SECRETS['query token']}&page=2",
        body=(
            f"password={SECRETS['form password']}"
            f"&password2={SECRETS['form password2']}&name=bob"
        ).encode(),
        headers={
            "Authorization": f"Bearer {SECRETS['authorization']}",
            "Cookie": (
                f"sessionid={SECRETS['session cookie']}; "
                f"csrftoken={SECRETS['csrf cookie']}; "
                f"remember={SECRETS['other cookie']}"
            ),
        },
    )

    assert status.startswith("500")
    [event] = transport.events
    sent = transport.sent().decode()
    assert [name for name, secret in SECRETS.items() if secret in sent] == []
    # What is kept is still there: the event was scrubbed, not emptied.
    request = event["request"]
    assert request["query_string"] == f"token={MASK}&page=2"
    assert request["data"] == {"password": MASK, "password2": MASK, "name": "bob"}
    assert request["headers"]["Authorization"] == MASK
    assert event["exception"]["values"][-1]["value"].startswith(
        f"card refused with {MASK}"
    )
    frame = event["exception"]["values"][-1]["stacktrace"]["frames"][-1]
    assert frame["function"] == "leaky"
    assert frame["vars"]["api_key"] == MASK
    if collect_everything:
        assert request["cookies"] == {
            "sessionid": MASK,
            "csrftoken": MASK,
            "remember": MASK,
        }


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_sensitive_variables_are_masked_in_frames(start_sentry, client):
    transport = start_sentry()

    client.get("/sensitive/")

    [event] = transport.events
    frame = event["exception"]["values"][-1]["stacktrace"]["frames"][-1]
    assert frame["function"] == "sensitive"
    assert frame["vars"]["pin"] == MASK
    assert "sekrit-pin-0010" not in transport.sent().decode()


def test_events_sent_by_code_are_scrubbed_too(start_sentry, settings):
    settings.PRODKIT = {"ERRORS": {"SCRUB_FIELDS": ["iban"]}}
    transport = start_sentry()
    sentry_sdk.set_user({"id": "42", "email": "ada@example.com", "username": "ada"})
    sentry_sdk.set_extra("customer_iban", "DE89370400440532013000")
    sentry_sdk.set_context("payment", {"card_token": "tok_visa_4242"})
    logging.getLogger("tests.errors.sentry").warning(
        "calling https://shop:hunter2hunter2@pay.example/charge"
    )

    sentry_sdk.capture_message("login with password=correct-horse")

    [event] = transport.events
    assert event["user"] == {"id": "42"}
    assert event["extra"]["customer_iban"] == MASK
    assert event["contexts"]["payment"] == {"card_token": MASK}
    sent = transport.sent().decode()
    for secret in ("ada@example.com", "DE8937", "tok_visa", "hunter2", "correct-horse"):
        assert secret not in sent


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_transactions_are_scrubbed(start_sentry):
    transport = start_sentry(traces_sample_rate=1.0)

    wsgi("/ok/", query=f"token={SECRETS['query token']}")

    [transaction] = transport.items("transaction")
    assert transaction["request"]["query_string"] == f"token={MASK}"
    assert SECRETS["query token"] not in transport.sent().decode()


# Client errors


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path", ["/not-found/", "/forbidden/", "/bad-request/", "/suspicious/"]
)
@pytest.mark.parametrize("client_errors", [False, True])
def test_client_errors_are_sent_only_when_configured(
    start_sentry, client, settings, path, client_errors
):
    settings.PRODKIT = {"ERRORS": {"CLIENT_ERRORS": client_errors}}
    # Sentry reports these statuses when told to, and SuspiciousOperation always (a log record).
    everything = DjangoIntegration(failed_request_status_codes={400, 403, 404})
    transport = start_sentry(integrations=[everything])

    assert 400 <= client.get(path).status_code < 500

    assert len(transport.events) == (1 if client_errors else 0)


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_disallowed_host_events_are_not_even_built_by_default(start_sentry, client):
    transport = start_sentry()

    assert client.get("/ok/", HTTP_HOST="evil.example").status_code == 400

    assert (transport.events, transport.lost) == ([], [])


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("client_errors", [False, True])
def test_disallowed_host_follows_client_errors_when_not_ignored(
    start_sentry, client, settings, client_errors
):
    settings.PRODKIT = {"ERRORS": {"CLIENT_ERRORS": client_errors}}
    transport = start_sentry(ignore_disallowed_host=False)

    client.get("/ok/", HTTP_HOST="evil.example")

    if client_errors:
        [event] = transport.events
        assert event["logger"] == "django.security.DisallowedHost"
    else:
        assert (transport.events, transport.lost) == ([], [("before_send", "error")])


# The user's own hooks


def test_own_before_send_sees_the_raw_event_and_its_result_is_scrubbed(start_sentry):
    seen: list[str] = []

    def own(event, hint):
        seen.append(json.dumps(event.get("extra")))
        event["tags"] = {**event.get("tags", {}), "team": "payments"}
        event["extra"]["added_secret"] = "sekrit-added-0012"
        return event

    transport = start_sentry(before_send=own)
    sentry_sdk.set_extra("api_token", "sekrit-extra-0013")

    sentry_sdk.capture_message("hello")

    assert "sekrit-extra-0013" in seen[0]
    [event] = transport.events
    assert event["tags"]["team"] == "payments"
    assert (event["extra"]["api_token"], event["extra"]["added_secret"]) == (MASK, MASK)


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_event_dropped_by_own_before_send_is_not_linked(start_sentry, client):
    transport = start_sentry(before_send=lambda event, hint: None)

    client.get("/boom/")

    assert errors.flush()
    assert transport.events == []
    assert ErrorGroup.objects.get().sentry_event_id == ""


def test_own_before_send_transaction_is_chained(start_sentry):
    names: list[str] = []

    def own(event, hint):
        names.append(event["transaction"])
        return event

    transport = start_sentry(traces_sample_rate=1.0, before_send_transaction=own)
    with sentry_sdk.start_transaction(name="nightly?token=sekrit-tx-0014"):
        pass

    assert names == ["nightly?token=sekrit-tx-0014"]
    [transaction] = transport.items("transaction")
    assert transaction["transaction"] == f"nightly?token={MASK}"


# Failures


def test_event_that_cannot_be_scrubbed_is_dropped(start_sentry, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="django_prodkit.integrations.sentry")

    def broken(value, *secrets):
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr("django_prodkit.scrub.scrub_value", broken)
    transport = start_sentry()

    sentry_sdk.capture_message("password=hunter22")

    assert transport.events == []
    assert transport.lost == [("before_send", "error")]
    assert "scrubbing failed" in caplog.text


def test_event_is_sent_when_linking_fails(start_sentry, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="django_prodkit.integrations.sentry")

    def broken(source, event_id):
        raise RuntimeError("writer bug")

    monkeypatch.setattr("django_prodkit.errors.link_sentry_event", broken)
    transport = start_sentry()

    try:
        raise ValueError("linked nowhere")
    except ValueError:
        sentry_sdk.capture_exception()

    assert len(transport.events) == 1
    assert "could not be linked" in caplog.text


# init()


def test_init_sets_the_recommended_defaults(start_sentry):
    # Without sentry-sdk's guesswork: the integrations must come from init itself.
    start_sentry(auto_enabling_integrations=False)

    client = sentry_sdk.get_client()
    assert client.get_integration(DjangoIntegration) is not None
    if importlib.util.find_spec("celery") is not None:
        from sentry_sdk.integrations.celery import CeleryIntegration

        assert client.get_integration(CeleryIntegration) is not None
    assert client.options["include_local_variables"] is True
    assert not client.options["send_default_pii"]
    if "data_collection" in client.options:
        assert client.options["data_collection"]["user_info"] is False


def test_init_passes_options_and_replaces_a_default_integration(start_sentry):
    start_sentry(
        integrations=[DjangoIntegration(transaction_style="function_name")],
        sample_rate=0.5,
        include_local_variables=False,
    )

    client = sentry_sdk.get_client()
    integration = client.get_integration(DjangoIntegration)
    assert integration is not None
    assert integration.transaction_style == "function_name"
    assert client.options["sample_rate"] == 0.5
    assert client.options["include_local_variables"] is False


def test_environment_and_release_come_from_the_environment(start_sentry, monkeypatch):
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "staging")
    monkeypatch.setenv("SENTRY_RELEASE", "shop@1.2.3")
    transport = start_sentry()

    sentry_sdk.capture_message("hello")

    [event] = transport.events
    assert (event["environment"], event["release"]) == ("staging", "shop@1.2.3")


def test_environment_and_release_arguments_win(start_sentry, monkeypatch):
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "staging")
    monkeypatch.setenv("SENTRY_RELEASE", "shop@1.2.3")
    transport = start_sentry(environment="canary", release="shop@2.0.0")

    sentry_sdk.capture_message("hello")

    [event] = transport.events
    assert (event["environment"], event["release"]) == ("canary", "shop@2.0.0")


def test_environment_defaults_to_production(start_sentry):
    transport = start_sentry()

    sentry_sdk.capture_message("hello")

    assert transport.events[0]["environment"] == "production"


def test_init_without_a_dsn_leaves_sentry_off(start_sentry):
    assert prodkit_sentry.init() is False

    assert not sentry_sdk.get_client().is_active()


# Imports


def _python(script: str) -> dict[str, Any]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SENTRY_", "DATABASE_URL"))
    }
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


WITHOUT_SENTRY = """
import importlib.abc, json, sys

tried = []

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "sentry_sdk":
            tried.append(name)
            raise ImportError("no sentry-sdk here")

sys.meta_path.insert(0, NotInstalled())
import django
django.setup()
import django_prodkit, django_prodkit.errors
from django.test import Client
from django.test.utils import override_settings, setup_test_environment

setup_test_environment()
with override_settings(ROOT_URLCONF="tests.errors.sentry_views"):
    status = Client(raise_request_exception=False).get("/boom/").status_code
key = django_prodkit.errors.capture_exception(RuntimeError("by hand"))
django_prodkit.errors.flush()
result = {"status": status, "captured": bool(key), "tried": list(tried)}
try:
    import django_prodkit.integrations.sentry
except ImportError as error:
    result["import_error"] = str(error)
print(json.dumps(result))
"""


def test_nothing_imports_sentry_sdk_without_it():
    result = _python(WITHOUT_SENTRY)

    assert result["status"] == 500
    assert result["captured"]
    assert result["tried"] == []
    assert "django-prodkit[sentry]" in result["import_error"]


IN_SETTINGS_PY = """
import json, sys
from django.conf import settings
from sentry_sdk.transport import Transport
import sentry_sdk
from django_prodkit.integrations import sentry

class Memory(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

transport = Memory()
started = sentry.init("https://public@example.invalid/1", transport=transport)
sentry_sdk.capture_message("an error while settings.py still runs")
print(json.dumps({
    "started": started,
    "configured": settings.configured,
    "sent": len(transport.envelopes),
    "kit": sorted(name for name in sys.modules if name.startswith("django_prodkit.")),
}))
"""


def test_init_reads_no_setting_and_drops_events_until_settings_are_loaded():
    result = _python(IN_SETTINGS_PY)

    assert result["started"]
    assert not result["configured"]
    assert result["sent"] == 0
    assert result["kit"] == [
        "django_prodkit.integrations",
        "django_prodkit.integrations.sentry",
    ]
