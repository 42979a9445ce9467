from __future__ import annotations

import pytest

from django_prodkit.redis import django_redis_aliases, get_client, is_django_redis
from tests.services import REDIS_URL


@pytest.fixture
def two_caches(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL},
    }


def test_django_redis_aliases_are_recognised(two_caches):
    assert is_django_redis("shared")
    assert not is_django_redis("default")
    assert not is_django_redis("missing")
    assert django_redis_aliases() == ["shared"]


def test_get_client_refuses_other_backends(two_caches):
    with pytest.raises(ValueError, match="'default' is not a django-redis cache"):
        get_client("default")


@pytest.mark.redis
def test_get_client_shares_the_cache_connection_pool(two_caches):
    pytest.importorskip("django_redis")
    from django.core.cache import caches

    client = get_client("shared")
    assert client.ping() is True
    cache_client = caches["shared"].client.get_client()  # type: ignore[attr-defined]
    assert client.connection_pool is cache_client.connection_pool
