"""System checks of idempotency keys: prodkit.E060 to prodkit.W062."""

from __future__ import annotations

import pytest
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.idempotency.checks import check_idempotency
from tests.idempotency.conftest import LOCMEM, MIDDLEWARE, with_middleware

REDIS = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://x/0"}


@pytest.fixture
def installed(settings):
    """The middleware after authentication, keys in a django-redis cache."""
    settings.MIDDLEWARE = with_middleware(list(settings.MIDDLEWARE))
    settings.CACHES = {"default": REDIS}
    return settings


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_a_good_setup_passes(installed):
    assert check_idempotency(None) == []


def test_nothing_is_checked_without_the_middleware(settings):
    settings.PRODKIT = {"IDEMPOTENCY": {"CACHE": "missing"}}
    assert check_idempotency(None) == []


def test_nothing_is_checked_when_disabled(installed):
    installed.PRODKIT = {"IDEMPOTENCY": {"ENABLED": False, "CACHE": "missing"}}
    assert check_idempotency(None) == []


def test_e060_cache_not_in_caches(installed):
    installed.PRODKIT = {"IDEMPOTENCY": {"CACHE": "idem"}}
    [message] = check_idempotency(None)
    assert isinstance(message, Error)
    assert message.id == "prodkit.E060"
    assert "'idem'" in message.msg
    assert message.hint == "Set PRODKIT['IDEMPOTENCY']['CACHE'] to one of: default."


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (LOCMEM, "keeps its keys per process"),
        ("django.core.cache.backends.dummy.DummyCache", "keeps nothing"),
        ("django.core.cache.backends.redis.RedisCache", "atomic within one process"),
        ("django.core.cache.backends.db.DatabaseCache", "atomic within one process"),
    ],
)
def test_w061_cache_is_not_django_redis(installed, backend, reason):
    installed.CACHES = {"default": {"BACKEND": backend}}
    [message] = check_idempotency(None)
    assert isinstance(message, Warning)
    assert message.id == "prodkit.W061"
    assert reason in message.msg


def test_w062_middleware_before_authentication(installed):
    middleware = [path for path in installed.MIDDLEWARE if path != MIDDLEWARE]
    installed.MIDDLEWARE = [MIDDLEWARE, *middleware]
    assert ids(check_idempotency(None)) == ["prodkit.W062"]
    installed.MIDDLEWARE = [
        "django_prodkit.idempotency.middleware.IdempotencyMiddleware",
        *middleware,
    ]
    assert ids(check_idempotency(None)) == ["prodkit.W062"]


def test_no_w062_without_authentication_middleware(installed):
    installed.MIDDLEWARE = [MIDDLEWARE]
    assert check_idempotency(None) == []


def test_the_check_is_registered(installed):
    installed.PRODKIT = {"IDEMPOTENCY": {"CACHE": "idem"}}
    with pytest.raises(SystemCheckError, match=r"prodkit\.E060"):
        call_command("check", "--tag", "prodkit")
