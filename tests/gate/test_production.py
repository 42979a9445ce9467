from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.checks.production import (
    check_error_capture,
    check_health_token,
    check_persistent_connections,
    check_upload_limits,
)

POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "db"}
TOKEN = "a-health-token-of-32-characters!"


def ids(messages):
    return [message.id for message in messages]


# Django warns that an overridden DATABASES does not reconfigure open connections;
# these checks only read the setting.
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
class TestPersistentConnections:
    def test_warns_for_a_server_database_without_persistent_connections(self, settings):
        settings.DATABASES = {"orders": {**POSTGRES}}

        [message] = check_persistent_connections(None)

        assert message.id == "prodkit.W106"
        assert message.obj == "DATABASES['orders']"
        assert "CONN_MAX_AGE" in str(message.hint)

    @pytest.mark.parametrize(
        "extra",
        [
            {"CONN_MAX_AGE": 60},
            {"CONN_MAX_AGE": None},
            {"CONN_MAX_AGE": 0, "OPTIONS": {"pool": True}},
            {"CONN_MAX_AGE": 0, "OPTIONS": {"pool": {"min_size": 2}}},
        ],
    )
    def test_quiet_with_persistent_connections_or_a_pool(self, settings, extra):
        settings.DATABASES = {"orders": {**POSTGRES, **extra}}

        assert check_persistent_connections(None) == []

    def test_quiet_for_sqlite(self, settings):
        settings.DATABASES = {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
        }

        assert check_persistent_connections(None) == []


class TestHealthToken:
    def test_warns_when_health_is_routed_without_a_token(self, settings):
        settings.PRODKIT = {"HEALTH": {"TOKEN": None}}

        [message] = check_health_token(None)

        assert message.id == "prodkit.W107"
        assert message.msg.startswith("/health/ is routed")

    def test_quiet_with_a_token(self, settings):
        settings.PRODKIT = {"HEALTH": {"TOKEN": TOKEN}}

        assert check_health_token(None) == []

    def test_quiet_when_health_is_disabled(self, settings):
        settings.PRODKIT = {"HEALTH": {"ENABLED": False}}

        assert check_health_token(None) == []

    def test_quiet_when_the_health_views_are_not_routed(self, settings):
        settings.ROOT_URLCONF = "tests.gate.urls"

        assert check_health_token(None) == []


class TestUploadLimits:
    @pytest.mark.parametrize(
        "name",
        [
            "DATA_UPLOAD_MAX_MEMORY_SIZE",
            "DATA_UPLOAD_MAX_NUMBER_FIELDS",
            "DATA_UPLOAD_MAX_NUMBER_FILES",
        ],
    )
    def test_warns_for_each_limit_turned_off(self, settings, name):
        setattr(settings, name, None)

        [message] = check_upload_limits(None)

        assert (message.id, message.obj) == ("prodkit.W108", name)

    def test_quiet_with_django_defaults_or_numbers(self, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024

        assert check_upload_limits(None) == []


class TestErrorCapture:
    def test_warns_when_errors_are_off_without_sentry_or_admins(self, settings):
        settings.PRODKIT = {"ERRORS": {"ENABLED": False}}
        settings.ADMINS = []

        assert ids(check_error_capture(None)) == ["prodkit.W109"]

    def test_quiet_while_errors_are_captured(self, settings):
        settings.PRODKIT = {"ERRORS": {"ENABLED": True}}

        assert check_error_capture(None) == []

    def test_quiet_when_admins_get_error_mail(self, settings):
        settings.PRODKIT = {"ERRORS": {"ENABLED": False}}
        settings.ADMINS = ["ops@example.com"]

        assert check_error_capture(None) == []


def test_production_checks_are_registered_as_deploy_checks(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = None

    with pytest.raises(SystemCheckError, match=r"prodkit\.W108"):
        call_command("check", "--deploy", "--tag", "prodkit", "--fail-level", "WARNING")


def test_production_checks_stay_out_of_a_plain_check(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = None
    out, err = StringIO(), StringIO()

    call_command("check", "--tag", "prodkit", stdout=out, stderr=err)

    assert "prodkit.W108" not in out.getvalue() + err.getvalue()
