from __future__ import annotations

import pytest
from django.core.management import call_command

from django_prodkit.logs.checks import check_middleware

FIRST = "django_prodkit.logs.RequestIDMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"


def ids(settings):
    return [message.id for message in check_middleware(None)]


def test_first_in_middleware_passes(settings):
    settings.MIDDLEWARE = [FIRST, SECURITY]
    assert ids(settings) == []


def test_full_module_path_is_accepted(settings):
    settings.MIDDLEWARE = [
        "django_prodkit.logs.middleware.RequestIDMiddleware",
        SECURITY,
    ]
    assert ids(settings) == []


def test_missing_middleware_warns(settings):
    settings.MIDDLEWARE = [SECURITY]
    [message] = check_middleware(None)
    assert message.id == "prodkit.W010"
    assert FIRST in str(message.hint)


def test_missing_middleware_is_fine_when_disabled(settings):
    settings.MIDDLEWARE = [SECURITY]
    settings.PRODKIT = {"LOGS": {"ENABLED": False}}
    assert ids(settings) == []


@pytest.mark.parametrize("middleware", [[SECURITY, FIRST], [FIRST, SECURITY, FIRST]])
def test_misordered_or_repeated_middleware_warns(settings, middleware):
    settings.MIDDLEWARE = middleware
    assert ids(settings) == ["prodkit.W011"]


def test_middleware_check_is_registered(settings, capsys):
    settings.MIDDLEWARE = [SECURITY]
    call_command("check", tags=["prodkit"])
    assert "prodkit.W010" in capsys.readouterr().err
