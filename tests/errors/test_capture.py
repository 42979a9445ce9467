"""Capture: grouping, regression, noise, the log handler and what a group records."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from django_prodkit import errors
from django_prodkit.errors.fingerprint import normalise_message
from django_prodkit.errors.models import ErrorGroup
from tests.locking.models import Folder

pytestmark = [
    pytest.mark.urls("tests.errors.capture_views"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def handler() -> Iterator[errors.ErrorLogHandler]:
    """ErrorLogHandler on the root logger, as the docs tell users to add it."""
    handler = errors.ErrorLogHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def groups() -> list[ErrorGroup]:
    assert errors.flush()
    return list(ErrorGroup.objects.order_by("first_seen"))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("order 42 does not exist", "order <n> does not exist"),
        ("order 17 does not exist", "order <n> does not exist"),
        ("user 'alice' has no 'admin' role", "user <str> has no <str> role"),
        ('key "x-1" missing', "key <str> missing"),
        ("row 3f2b8c9e-6a4d-4b1e-9f3a-2c5d7e8f9a0b locked", "row <uuid> locked"),
        ("object at 0x7f3a2b1c", "object at <hex>"),
        ("digest 9f86d081884c7d65 mismatch", "digest <hex> mismatch"),
        ("mail to bob@example.com bounced", "mail to <email> bounced"),
        ("took 1.5 s, limit 1,000", "took <n> s, limit <n>"),
        ("database is locked", "database is locked"),
    ],
)
def test_normalise_message_strips_what_varies(message, expected):
    assert normalise_message(message) == expected


def test_the_same_error_with_different_ids_is_one_group(client):
    assert client.get("/order/1/").status_code == 500
    assert client.get("/order/2/").status_code == 500
    assert client.get("/order/3/").status_code == 500

    (group,) = groups()
    assert group.count == 3
    assert group.exception_type == "tests.errors.capture_views.OrderMissing"
    assert group.source == "request"
    # The last occurrence's details.
    assert group.message == "order 3 does not exist (looked up by 'ref-3')"
    assert group.request_path == "/order/3/"
    assert group.request_route == "order/<int:pk>/"
    assert group.request_method == "GET"


def test_different_errors_are_different_groups(client):
    client.get("/order/1/")
    client.get("/divide/4/")
    client.get("/divide/5/")

    order, divide = groups()
    assert (order.exception_type, order.count) == (
        "tests.errors.capture_views.OrderMissing",
        1,
    )
    assert (divide.exception_type, divide.count) == ("ZeroDivisionError", 2)
    assert order.fingerprint != divide.fingerprint


def test_the_culprit_is_the_innermost_frame_of_the_project(client):
    client.get("/library/")

    (group,) = groups()
    # json.decoder raised it; the project's own frame that called into it is the culprit.
    assert group.exception_type == "json.decoder.JSONDecodeError"
    assert group.culprit.startswith("tests.errors.capture_views.parse_json:")
    assert "json/decoder.py" in group.traceback


def test_a_group_records_the_request_id_and_a_traceback(client):
    response = client.get("/divide/1/", HTTP_X_REQUEST_ID="req-abc-123")

    (group,) = groups()
    assert response["X-Request-ID"] == "req-abc-123"
    assert group.request_id == "req-abc-123"
    assert group.traceback.startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in group.traceback
    assert group.severity == "error"
    assert group.status == "unresolved"
    frames = group.context["frames"]
    assert frames[0]["function"] == "divide"
    assert frames[0]["locals"]["pk"] == "1"


def test_the_user_id_is_recorded_when_the_request_loaded_the_user(
    client, django_user_model
):
    user = django_user_model.objects.create_user("ada", password="x")
    client.force_login(user)
    client.get("/divide/1/")

    (group,) = groups()
    # AuthenticationMiddleware's lazy user is not loaded by these views: loading it in
    # capture would query the database, so it stays unknown...
    assert group.user_id == ""


def test_the_user_id_is_taken_from_a_loaded_user(rf, django_user_model):
    user = django_user_model.objects.create_user("ada", password="x")
    request = rf.get("/anything/")
    request.user = user
    try:
        raise ValueError("with a user")
    except ValueError as exc:
        errors.capture_exception(exc, request=request)

    (group,) = groups()
    assert group.user_id == str(user.pk)
    assert group.source == "code"


def test_a_resolved_group_that_occurs_again_regresses(client):
    client.get("/order/1/")
    (group,) = groups()
    ErrorGroup.objects.filter(pk=group.pk).update(status="resolved")

    client.get("/order/2/")

    (group,) = groups()
    assert group.status == "unresolved"
    assert group.regressed_at is not None
    assert group.times_regressed == 1
    assert group.count == 2


def test_an_ignored_group_stays_ignored_and_counts(client):
    client.get("/order/1/")
    groups()
    ErrorGroup.objects.update(status="ignored")

    client.get("/order/2/")

    (group,) = groups()
    assert (group.status, group.count, group.regressed_at) == ("ignored", 2, None)


def test_capture_inside_a_failed_atomic_block_is_stored_and_the_block_rolls_back(
    client,
):
    assert client.get("/broken-transaction/").status_code == 500

    (group,) = groups()
    assert "no_such_table_at_all" in group.message
    assert not Folder.objects.exists()  # The user's own write was rolled back.


def test_a_logged_error_inside_a_broken_transaction_is_stored(handler):
    from django.db import DatabaseError, connection, transaction

    log = logging.getLogger("shop.checkout")

    def checkout() -> None:
        with transaction.atomic():
            Folder.objects.create(name="rolled back")
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT * FROM no_such_table_either")
            except DatabaseError:
                # Inside the broken block: the error log must not write through it.
                log.exception("checkout failed")
                raise

    with pytest.raises(DatabaseError):
        checkout()

    (group,) = groups()
    assert group.source == "log"
    assert group.logger == "shop.checkout"
    assert "no_such_table_either" in group.message
    assert not Folder.objects.exists()


@pytest.mark.parametrize("url", ["/not-found/", "/forbidden/", "/bad-request/"])
def test_client_errors_create_no_group(client, handler, url):
    response = client.get(url)

    assert 400 <= response.status_code < 500
    assert groups() == []


def test_disallowed_host_creates_no_group(client, handler):
    response = client.get("/divide/1/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert groups() == []


def test_client_errors_are_captured_when_configured(client, handler, settings):
    settings.PRODKIT = {"ERRORS": {"CLIENT_ERRORS": True}}
    handler.setLevel(logging.WARNING)  # Django logs a 404 as a warning.

    client.get("/not-found/")
    client.get("/divide/1/", HTTP_HOST="evil.example")

    found = {(group.logger, group.severity) for group in groups()}
    assert found == {
        ("django.request", "warning"),
        ("django.security.DisallowedHost", "error"),
    }


def test_ignored_exception_classes_create_no_group(client, settings):
    settings.PRODKIT = {
        "ERRORS": {"IGNORE": ["tests.errors.capture_views.OrderMissing"]}
    }

    client.get("/order/1/")
    client.get("/divide/1/")

    assert [group.exception_type for group in groups()] == ["ZeroDivisionError"]


def test_nothing_is_captured_when_disabled(client, handler, settings):
    settings.PRODKIT = {"ERRORS": {"ENABLED": False}}

    client.get("/divide/1/")
    logging.getLogger("shop").error("not captured")

    assert groups() == []


def test_a_500_that_django_also_logs_is_one_occurrence(client, handler):
    # Django signals the exception and logs "Internal Server Error" with the same
    # exception; the handler on the root logger sees that record.
    client.get("/divide/1/")

    (group,) = groups()
    assert (group.count, group.source) == (1, "request")


def test_log_records_are_grouped_by_their_template(handler):
    log = logging.getLogger("shop.payments")
    log.error("payment %s failed for %s", 101, "alice")
    log.error("payment %s failed for %s", 102, "bob")
    log.critical("gateway down")
    log.warning("below the handler's level")

    payment, gateway = groups()
    assert (payment.count, payment.severity, payment.source) == (2, "error", "log")
    assert payment.message == "payment 102 failed for bob"
    assert payment.exception_type == ""
    assert (
        payment.culprit
        == "shop.payments.test_log_records_are_grouped_by_their_template"
    )
    assert gateway.severity == "critical"


def test_a_warning_level_handler_records_warnings():
    handler = errors.ErrorLogHandler(logging.WARNING)
    log = logging.getLogger("shop.stock")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    try:
        log.warning("stock low for %s", "sku-1")
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)

    (group,) = groups()
    assert group.severity == "warning"


def test_a_record_that_cannot_be_formatted_does_not_raise(caplog):
    log = logging.getLogger("shop.broken")
    log.propagate = False  # Only prodkit's handler sees the record.
    log.addHandler(errors.ErrorLogHandler())
    try:
        log.error("%d items", "not a number")  # getMessage() raises TypeError
    finally:
        log.handlers.clear()
        log.propagate = True

    assert groups() == []
    assert "error capture failed: TypeError" in caplog.text


def test_ignored_loggers_are_not_captured(handler, settings):
    settings.PRODKIT = {"ERRORS": {"IGNORE_LOGGERS": ["noisy"]}}

    logging.getLogger("noisy.child").error("skip me")
    logging.getLogger("quiet").error("keep me")

    assert [group.logger for group in groups()] == ["quiet"]


def test_capture_message_groups_by_text_and_caller():
    for number in (1, 2):
        errors.capture_message(
            f"nightly export {number} incomplete", severity="warning"
        )

    (group,) = groups()
    assert (group.count, group.severity, group.source) == (2, "warning", "code")
    assert group.culprit.endswith("test_capture_message_groups_by_text_and_caller")


def test_capture_exception_outside_an_except_block_records_nothing():
    assert errors.capture_exception() is None
    assert groups() == []


def test_an_exception_is_captured_once_however_often_it_is_reported():
    try:
        raise KeyError("once")
    except KeyError as exc:
        first = errors.capture_exception(exc)
        second = errors.capture_exception(exc)

    assert first is not None
    assert second is None
    (group,) = groups()
    assert group.count == 1


def test_the_severity_of_a_group_is_the_highest_seen():
    for severity in ("warning", "critical", "error"):
        try:
            raise ValueError("escalating")
        except ValueError:
            errors.capture_exception(severity=severity)

    (group,) = groups()
    assert group.severity == "critical"
