"""System checks of error capture: prodkit.E070 to prodkit.E074."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.errors.checks import check_errors

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
REDIS = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://x/0"}
SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cr3t-token"


def ids(settings) -> list[str | None]:
    return [message.id for message in check_errors(None)]


def test_the_defaults_pass(settings):
    assert ids(settings) == []


def test_an_ignored_class_that_cannot_be_imported(settings):
    settings.PRODKIT = {"ERRORS": {"IGNORE": ["shop.payments.CardDeclined"]}}
    (message,) = check_errors(None)
    assert message.id == "prodkit.E070"
    assert "'shop.payments.CardDeclined' cannot be imported" in message.msg


def test_an_ignored_name_that_is_not_an_exception(settings):
    settings.PRODKIT = {"ERRORS": {"IGNORE": ["django.http.HttpResponse", "os.sep"]}}
    messages = check_errors(None)
    assert [m.id for m in messages] == ["prodkit.E070", "prodkit.E070"]
    assert all("is not an exception class" in m.msg for m in messages)


def test_ignored_exception_classes_pass(settings):
    settings.PRODKIT = {"ERRORS": {"IGNORE": ["django.http.Http404", "KeyError"]}}
    # A builtin needs its module: "KeyError" alone is not a dotted path.
    assert ids(settings) == ["prodkit.E070"]
    settings.PRODKIT = {"ERRORS": {"IGNORE": ["builtins.KeyError"]}}
    assert ids(settings) == []


def test_a_database_that_is_not_configured(settings):
    settings.PRODKIT = {"ERRORS": {"DATABASE": "logs"}}
    (message,) = check_errors(None)
    assert message.id == "prodkit.E071"
    assert "default" in str(message.hint)


def test_an_alert_cache_that_is_not_configured(settings):
    settings.PRODKIT = {"ERRORS": {"ALERTS": {"MAIL_ADMINS": True, "CACHE": "alerts"}}}
    assert ids(settings) == ["prodkit.E072"]


def test_alert_cooldowns_in_a_per_process_cache(settings):
    settings.CACHES = {"default": LOCMEM}
    settings.PRODKIT = {"ERRORS": {"ALERTS": {"WEBHOOK_URL": SECRET_URL}}}
    (message,) = check_errors(None)
    assert message.id == "prodkit.W073"
    assert "keeps its keys per process" in message.msg


def test_alert_cooldowns_in_redis_pass(settings):
    settings.CACHES = {"default": REDIS}
    settings.PRODKIT = {"ERRORS": {"ALERTS": {"WEBHOOK_URL": SECRET_URL}}}
    assert ids(settings) == []


def test_the_alert_cache_is_not_checked_without_a_channel(settings):
    settings.PRODKIT = {"ERRORS": {"ALERTS": {"CACHE": "alerts"}}}
    assert ids(settings) == []


@pytest.mark.parametrize(
    "url", ["hooks.example.com/x", "ftp://hooks.example.com/x", "https:///x"]
)
def test_a_webhook_that_is_not_an_http_url(settings, url):
    settings.CACHES = {"default": REDIS}
    settings.PRODKIT = {"ERRORS": {"ALERTS": {"WEBHOOK_URL": url}}}
    (message,) = check_errors(None)
    assert message.id == "prodkit.E074"
    assert url not in f"{message.msg} {message.hint}"  # The URL carries its token.


def test_nothing_is_checked_when_disabled(settings):
    settings.PRODKIT = {"ERRORS": {"ENABLED": False, "DATABASE": "logs"}}
    assert ids(settings) == []


def test_the_checks_run_with_manage_py_check(settings):
    settings.PRODKIT = {"ERRORS": {"DATABASE": "logs"}}
    with pytest.raises(SystemCheckError, match="prodkit.E071"):
        call_command("check")
