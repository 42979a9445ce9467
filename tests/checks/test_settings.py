from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.checks.settings import check_settings


def test_valid_settings_pass(settings):
    settings.PRODKIT = {"LOGS": {"REQUEST_LOG": False}}
    assert check_settings(None) == []


def test_unknown_key_suggests_closest(settings):
    settings.PRODKIT = {"LOGS": {"REQUEST_LOGS": True}}
    [message] = check_settings(None)
    assert (message.id, message.hint) == ("prodkit.E001", "Did you mean 'REQUEST_LOG'?")
    assert message.msg == "Unknown setting PRODKIT['LOGS']['REQUEST_LOGS']."


def test_wrong_type_names_full_key_path(settings):
    settings.PRODKIT = {"LOGS": {"TRUST_REQUEST_ID": "no"}}
    [message] = check_settings(None)
    assert message.id == "prodkit.E002"
    assert (
        message.msg
        == "PRODKIT['LOGS']['TRUST_REQUEST_ID'] must be a bool, got 'no' (str)."
    )
    assert message.hint == "The default is True."


# Django 6.1 runs the model checks against the database (JSONField support).
@pytest.mark.django_db
def test_settings_check_is_registered(settings):
    settings.PRODKIT = {"NOPE": {}}
    with pytest.raises(SystemCheckError, match=r"prodkit\.E001"):
        call_command("check")


def test_settings_check_runs_under_the_prodkit_tag(settings):
    settings.PRODKIT = {"LOGS": {"ENABLED": None}}
    with pytest.raises(SystemCheckError, match=r"prodkit\.E002"):
        call_command("check", tags=["prodkit"])
