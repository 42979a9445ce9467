"""Fixtures of the idempotency tests: the store's cache, the middleware, both client modes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from django_prodkit.breaker import breakers
from tests.idempotency import views

DB = 13  # The shared Redis's database for these tests.
MIDDLEWARE = "django_prodkit.idempotency.IdempotencyMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
REPLAYED = "Idempotent-Replayed"


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    """No breaker left open, no view count or held view left by another test."""

    def reset() -> None:
        for breaker in breakers().values():
            breaker.reset()
        views.reset()

    reset()
    yield
    views.RELEASE.set()  # Never leave a server thread waiting.
    reset()


def with_middleware(middleware: list[str]) -> list[str]:
    """``MIDDLEWARE`` with ``IdempotencyMiddleware`` right after authentication."""
    position = middleware.index(AUTH_MIDDLEWARE) + 1
    return [*middleware[:position], MIDDLEWARE, *middleware[position:]]


@pytest.fixture
def redis_db_number() -> int:
    return DB


def redis_cache(location: str, key_prefix: str, timeout: float = 0.5) -> dict[str, Any]:
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": timeout, "SOCKET_TIMEOUT": timeout},
    }


Configure = Callable[..., dict[str, Any]]


@pytest.fixture
def configure(settings) -> Configure:
    """``configure(cache, redis=None, **IDEMPOTENCY options)``; returns ``PRODKIT``.

    The keys live in cache ``"idempotency"`` (the ``cache`` dict given); ``default`` stays
    a local cache. The middleware goes right after authentication.
    """
    base_middleware = list(settings.MIDDLEWARE)

    def apply(
        cache: dict[str, Any],
        *,
        redis: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        settings.CACHES = {"default": {"BACKEND": LOCMEM}, "idempotency": cache}
        prodkit: dict[str, Any] = {"IDEMPOTENCY": {"CACHE": "idempotency", **options}}
        if redis is not None:
            prodkit["REDIS"] = redis
        settings.PRODKIT = prodkit
        settings.MIDDLEWARE = with_middleware(base_middleware)
        settings.ROOT_URLCONF = "tests.idempotency.urls"
        return prodkit

    return apply


@pytest.fixture(params=["locmem", pytest.param("redis", marks=pytest.mark.redis)])
def store_cache(request: pytest.FixtureRequest, key_prefix: str) -> dict[str, Any]:
    """The cache of the store under test: a ``LocMemCache``, or django-redis."""
    if request.param == "locmem":
        return {"BACKEND": LOCMEM, "LOCATION": key_prefix}
    location = request.getfixturevalue("redis_db")
    return redis_cache(location, key_prefix)


class Sender:
    """Requests through Django's test client, or its async client (ASGI handler)."""

    def __init__(self, mode: str, client: Any, async_client: Any) -> None:
        self.mode = mode
        self.client = client if mode == "sync" else async_client

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str = b'{"item": "book"}',
        key: str | None = "key-1",
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = dict(headers or {})
        if key is not None:
            sent["Idempotency-Key"] = key
        call = getattr(self.client, method.lower())
        if self.mode == "async":
            call = async_to_sync(call)
        return call(path, body, content_type="application/json", headers=sent)

    def get(self, path: str, headers: dict[str, str]) -> Any:
        if self.mode == "async":
            return async_to_sync(self.client.get)(path, headers=headers)
        return self.client.get(path, headers=headers)

    def post(self, path: str, body: bytes | str = b'{"item": "book"}', **kwargs: Any):
        return self.request("POST", path, body, **kwargs)

    def force_login(self, user: Any) -> None:
        self.client.force_login(user)


@pytest.fixture(params=["sync", "async"])
def send(request: pytest.FixtureRequest, client, async_client) -> Sender:
    return Sender(str(request.param), client, async_client)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """A refusal of the middleware: JSON ``error`` and ``detail``, never stored."""
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert body["detail"]
    assert not response.has_header(REPLAYED)
    return dict(body)


@pytest.fixture
def store_on(configure, store_cache):
    """The middleware with its keys in the parametrized store, plus ``IDEMPOTENCY``."""

    def apply(**options: Any) -> None:
        configure(store_cache, **options)

    return apply


@pytest.fixture
def mode_clients(send, client, async_client):
    """``mode_clients(**client options)``: a new sender in the mode of ``send``."""

    def make(**options: Any) -> Sender:
        return Sender(send.mode, Client(**options), AsyncClient(**options))

    return make
