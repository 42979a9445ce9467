"""Fixtures of the query tests: a clean writer, the middleware, a database that is down."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import AsyncClient, Client

from django_prodkit import queries
from django_prodkit.breaker import breakers
from django_prodkit.queries.fingerprint import fingerprint, normalise
from django_prodkit.queries.writer import writer

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


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sqlite_down() -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "/nonexistent-prodkit-dir/queries.sqlite3",
    }


def _postgres_down() -> dict[str, object]:
    pytest.importorskip("psycopg")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "queries",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(closed_port()),
        "OPTIONS": {"connect_timeout": 2},
    }


def add_alias(
    monkeypatch, settings, django_db_blocker, alias: str, config: dict[str, object]
) -> None:
    """A database alias for one test, reachable from any thread (no test guard)."""
    monkeypatch.setitem(settings.DATABASES, alias, config)
    databases = {**settings.DATABASES}
    connections.settings[alias] = connections.configure_settings(databases)[alias]
    real = django_db_blocker._real_ensure_connection
    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", real)


def remove_alias(alias: str) -> None:
    if alias in connections.settings:
        with contextlib.suppress(Exception):  # An engine that cannot be loaded.
            connections[alias].close()
            del connections[alias]
        del connections.settings[alias]


@pytest.fixture(params=[_sqlite_down, _postgres_down], ids=["sqlite", "postgres"])
def database_down(request, settings, monkeypatch, django_db_blocker) -> Iterator[str]:
    alias = "queries_down"
    add_alias(monkeypatch, settings, django_db_blocker, alias, request.param())
    try:
        yield alias
    finally:
        remove_alias(alias)
