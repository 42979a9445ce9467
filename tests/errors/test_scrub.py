"""A secret sent in each place a request carries one is stored nowhere."""

from __future__ import annotations

import json

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from django_prodkit import errors
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.scrub import MASK

pytestmark = [
    pytest.mark.urls("tests.errors.capture_views"),
    pytest.mark.django_db(transaction=True),
]

SECRETS = {
    "authorization": "AUTHZ-SECRET-1",
    "session": "SESSION-SECRET-2",
    "csrf_cookie": "CSRFCOOKIE-SECRET-3",
    "csrf_header": "CSRFHEADER-SECRET-4",
    "query_token": "QUERYTOKEN-SECRET-5",
    "password": "PASSWORD-SECRET-6",
    "configured": "IBAN-SECRET-7",
    "api_header": "APIKEYHEADER-SECRET-8",
    "sensitive_post": "PIN-SECRET-9",
    "setting": "sk_live_SETTING-SECRET-10",
    "json_password": "JSONPASSWORD-SECRET-11",
}


def stored() -> str:
    """Everything stored for every group, as one text."""
    assert errors.flush()
    rows = [model_to_dict(group) for group in ErrorGroup.objects.all()]
    assert rows
    return json.dumps(rows, default=str)


@pytest.fixture
def secrets_settings(settings):
    settings.PRODKIT = {"ERRORS": {"SCRUB_FIELDS": ["iban"]}}
    # A setting Django's SafeExceptionReporterFilter hides; its value leaks into the
    # message below through an innocent-looking query parameter.
    settings.PAYMENT_GATEWAY_SECRET = SECRETS["setting"]


def test_a_form_post_leaks_nothing(secrets_settings):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = SECRETS["session"]
    client.cookies["csrftoken"] = SECRETS["csrf_cookie"]

    response = client.post(
        f"/leaky/?token={SECRETS['query_token']}&note={SECRETS['setting']}&page=2",
        {
            "password": SECRETS["password"],
            "iban": SECRETS["configured"],
            "pin": SECRETS["sensitive_post"],
            "csrfmiddlewaretoken": SECRETS["csrf_header"],
            "name": "visible",
        },
        HTTP_AUTHORIZATION=f"Bearer {SECRETS['authorization']}",
        HTTP_X_CSRFTOKEN=SECRETS["csrf_header"],
        HTTP_X_API_KEY=SECRETS["api_header"],
    )

    assert response.status_code == 500
    text = stored()
    for place, secret in SECRETS.items():
        if place != "json_password":
            assert secret not in text, f"the {place} secret was stored"
    # What is not secret is kept, so the group is still useful.
    (group,) = ErrorGroup.objects.all()
    request = group.context["request"]
    assert request["query"]["page"] == "2"
    assert request["query"]["token"] == MASK
    assert request["form"]["name"] == "visible"
    assert request["form"]["password"] == MASK
    assert request["form"]["iban"] == MASK
    assert request["headers"]["Authorization"] == MASK
    assert request["headers"]["Cookie"] == MASK
    assert sorted(request["cookies"]) == ["csrftoken", "sessionid"]


def test_a_json_body_leaks_nothing(secrets_settings):
    client = Client(raise_request_exception=False)
    body = {
        "user": {"password": SECRETS["json_password"], "name": "visible"},
        "iban": SECRETS["configured"],
    }

    client.post("/leaky/", body, content_type="application/json")

    text = stored()
    assert SECRETS["json_password"] not in text
    assert SECRETS["configured"] not in text
    (group,) = ErrorGroup.objects.all()
    assert group.context["request"]["json"]["user"]["name"] == "visible"


def test_locals_leak_nothing(secrets_settings):
    client = Client(raise_request_exception=False)
    client.post(f"/leaky/?note={SECRETS['setting']}", {})

    text = stored()
    (group,) = ErrorGroup.objects.all()
    assert "4111-CARD-SECRET" not in text  # @sensitive_variables("card")
    assert "LOCAL-API-KEY-SECRET" not in text  # a sensitive name
    assert SECRETS["setting"] not in text  # a hidden setting's value, under any name
    leaky = next(f for f in group.context["frames"] if f["function"] == "leaky")
    assert leaky["locals"]["api_key"] == MASK
    assert "****" in leaky["locals"]["card"]


def test_the_secret_key_and_database_passwords_are_masked_in_messages(settings):
    settings.SECRET_KEY = "django-insecure-0123456789abcdef"
    try:
        raise ValueError(
            "signing with django-insecure-0123456789abcdef failed; "
            "dsn postgres://app:hunter22@db/app"
        )
    except ValueError:
        errors.capture_exception()

    text = stored()
    assert "django-insecure-0123456789abcdef" not in text
    assert "hunter22" not in text
