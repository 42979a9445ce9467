from __future__ import annotations

import pytest
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.metrics.checks import check_metrics
from tests.metrics.conftest import MIDDLEWARE, redis_cache

REQUEST_ID = "django_prodkit.logs.RequestIDMiddleware"
RATELIMIT = "django_prodkit.ratelimit.RateLimitMiddleware"
SHARED = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}


@pytest.fixture
def clean(settings):
    """Settings that pass: the middleware second, roll-ups in a shared cache."""
    settings.MIDDLEWARE = [REQUEST_ID, MIDDLEWARE, RATELIMIT]
    settings.CACHES = {**settings.CACHES, "rollup": SHARED}
    return settings


def test_clean_settings_pass(clean):
    assert check_metrics(None) == []


def test_nothing_is_checked_when_disabled(clean):
    clean.MIDDLEWARE = []
    clean.CACHES = {"default": clean.CACHES["default"]}
    clean.PRODKIT = {**clean.PRODKIT, "METRICS": {"ENABLED": False, "TOKEN": " "}}
    assert check_metrics(None) == []


@pytest.mark.parametrize("token", ["", " padded-token-0123456789abcdef", "tab\t"])
def test_a_token_no_header_can_match_is_an_error(clean, token):
    clean.PRODKIT = {**clean.PRODKIT, "METRICS": {"TOKEN": token}}
    [message] = check_metrics(None)
    assert isinstance(message, Error)
    assert message.id == "prodkit.E090"
    assert "padded-token" not in message.msg  # A secret is never echoed.


def test_a_short_token_warns(clean):
    clean.PRODKIT = {**clean.PRODKIT, "METRICS": {"TOKEN": "short"}}
    [message] = check_metrics(None)
    assert (message.id, message.msg) == (
        "prodkit.W094",
        "PRODKIT['METRICS']['TOKEN'] is only 5 characters long.",
    )


def test_a_per_process_rollup_cache_warns_outside_debug(clean):
    clean.CACHES = {
        **clean.CACHES,
        "rollup": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    [message] = check_metrics(None)
    assert isinstance(message, Warning)
    assert message.id == "prodkit.W091"
    assert "keeps its keys per process" in message.msg
    clean.DEBUG = True
    assert check_metrics(None) == []


@pytest.mark.redis
def test_a_django_redis_rollup_cache_passes(clean):
    clean.CACHES = {
        **clean.CACHES,
        "rollup": redis_cache("redis://127.0.0.1:6379/9", "x"),
    }
    assert check_metrics(None) == []


def test_a_missing_middleware_warns(clean):
    clean.MIDDLEWARE = [REQUEST_ID]
    clean.CACHES = {
        **clean.CACHES,
        "rollup": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    [message] = check_metrics(None)  # Without the middleware, no W091 either.
    assert message.id == "prodkit.W092"
    assert MIDDLEWARE in str(message.hint)


@pytest.mark.parametrize(
    ("middleware", "uncounted"),
    [
        ([REQUEST_ID, MIDDLEWARE, MIDDLEWARE], ""),
        ([REQUEST_ID, RATELIMIT, MIDDLEWARE], "(rate-limit refusals go uncounted)"),
        (
            [
                "django.middleware.cache.UpdateCacheMiddleware",
                "django_prodkit.idempotency.IdempotencyMiddleware",
                MIDDLEWARE,
            ],
            "(idempotent replays, pages served from the cache go uncounted)",
        ),
    ],
)
def test_a_misplaced_or_repeated_middleware_warns(clean, middleware, uncounted):
    clean.MIDDLEWARE = middleware
    [message] = check_metrics(None)
    assert message.id == "prodkit.W093"
    assert message.msg.endswith(f"on their own{' ' + uncounted if uncounted else ''}.")


def test_allowing_every_address_warns(clean):
    clean.PRODKIT = {
        **clean.PRODKIT,
        "METRICS": {"ALLOWED_IPS": ["10.0.0.0/8", "::/0"]},
    }
    [message] = check_metrics(None)
    assert message.id == "prodkit.W095"
    assert "::/0" in message.msg


def test_a_rollup_cache_not_in_caches_is_an_error(clean):
    clean.PRODKIT = {**clean.PRODKIT, "ROLLUP": {"CACHE": "counters"}}
    [message] = check_metrics(None)
    assert (message.id, message.msg) == (
        "prodkit.E096",
        "PRODKIT['ROLLUP'] keeps its counters in cache 'counters', which is not in CACHES.",
    )


def test_the_check_is_registered(clean, capsys):
    clean.PRODKIT = {**clean.PRODKIT, "METRICS": {"TOKEN": ""}}
    with pytest.raises(SystemCheckError, match=r"prodkit\.E090"):
        call_command("check", tags=["prodkit"])
    clean.PRODKIT = {**clean.PRODKIT, "METRICS": {}}
    clean.MIDDLEWARE = [REQUEST_ID]
    call_command("check", tags=["prodkit"])
    assert "prodkit.W092" in capsys.readouterr().err
