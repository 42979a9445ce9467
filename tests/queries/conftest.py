"""Fixtures of the query tests: a clean writer, the middleware, a database that is down."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from django_prodkit import queries
from django_prodkit.breaker import breakers
from django_prodkit.queries.fingerprint import fingerprint, normalise
from django_prodkit.queries.writer import writer
from tests.dead_services import DATABASES_DOWN, add_alias, remove_alias

MIDDLEWARE = "django_prodkit.queries.QueriesMiddleware"


@pytest.fixture(autouse=True)
def _clean_writer() -> Iterator[None]:
    """Nothing pending from an earlier test, and nothing left for a later one."""
    queries.flush()
    writer.reset_counters()
    for breaker in breakers().values():
        breaker.reset()
    yield
    queries.flush()
    for breaker in breakers().values():
        breaker.reset()


@pytest.fixture
def with_middleware(settings):
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], MIDDLEWARE, *settings.MIDDLEWARE[1:]]
    settings.ROOT_URLCONF = "tests.queries.urls"


Get = Callable[..., object]


@pytest.fixture(params=["wsgi", "asgi"])
def get(request, with_middleware) -> Get:
    """GET through the full stack with the middleware, under WSGI or ASGI."""
    if request.param == "wsgi":
        client = Client(raise_request_exception=False)
        return lambda path, **extra: client.get(path, **extra)
    async_client = AsyncClient(raise_request_exception=False)
    return lambda path, **extra: async_to_sync(async_client.get)(path, **extra)


@pytest.fixture
def is_async(get, request) -> bool:
    return bool(request.node.callspec.params["get"] == "asgi")


def key_of(sql: str) -> str:
    return fingerprint(normalise(sql))


@pytest.fixture(params=sorted(DATABASES_DOWN))
def database_down(request, settings, monkeypatch, django_db_blocker) -> Iterator[str]:
    alias = "queries_down"
    config = DATABASES_DOWN[request.param]("queries")
    add_alias(monkeypatch, settings, django_db_blocker, alias, config)
    try:
        yield alias
    finally:
        remove_alias(alias)
