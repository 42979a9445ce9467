"""Services that are down for real: a port where nothing listens, a database alias that
cannot be reached (a SQLite file in a directory that does not exist, a PostgreSQL port
with no server), and the way to give one test such an alias."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper


def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_down(name: str) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": f"/nonexistent-prodkit-dir/{name}.sqlite3",
    }


def postgres_down(name: str) -> dict[str, object]:
    pytest.importorskip("psycopg")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(closed_port()),
        "OPTIONS": {"connect_timeout": 2},
    }


DATABASES_DOWN: dict[str, Callable[[str], dict[str, object]]] = {
    "sqlite": sqlite_down,
    "postgres": postgres_down,
}


def add_alias(
    monkeypatch, settings, django_db_blocker, alias: str, config: dict[str, object]
) -> None:
    """A database alias for one test, reachable from any thread.

    Django's test case forbids threads to connect to aliases the test did not declare;
    this alias exists for this test only, so its guard is lifted: the real
    ensure_connection (as pytest-django keeps it) really tries to connect.
    """
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
