"""Real services for the test suite, as a pytest plugin (loaded with ``-p tests.services``).

Tests marked ``postgres``, ``redis`` or ``celery`` need that service; they skip with the
URL that was tried when it is absent, and under ``PRODKIT_REQUIRE_SERVICES=1`` an absent
service stops the whole run instead.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
BROKER_URL = (
    os.environ.get("CELERY_BROKER_URL") or "amqp://guest:guest@127.0.0.1:5672//"
)
DATABASE_URL = os.environ.get("DATABASE_URL") or ""
TIMEOUT = 3.0


def services_required() -> bool:
    return os.environ.get("PRODKIT_REQUIRE_SERVICES", "") == "1"


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


@cache
def probe(service: str) -> str | None:
    """``None`` when the service answers, else why not."""
    try:
        if service == "postgres":
            _probe_postgres()
        elif service == "redis":
            _probe_redis()
        elif service == "celery":
            _probe_broker()
        else:
            raise ValueError(service)
    except LookupError as exc:  # Not configured for this run: the message says why.
        return str(exc)
    except Exception as exc:  # Any failure to talk to the service means "absent".
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _probe_postgres() -> None:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise LookupError(
            "this run's default database is SQLite; "
            f"run with DATABASE_URL={DEFAULT_DATABASE_URL} to include it"
        )
    import psycopg

    psycopg.connect(DATABASE_URL, connect_timeout=int(TIMEOUT)).close()


def _probe_redis() -> None:
    parts = urlsplit(REDIS_URL)
    with socket.create_connection(
        (parts.hostname or "127.0.0.1", parts.port or 6379), TIMEOUT
    ) as sock:
        if parts.password:
            sock.sendall(f"AUTH {parts.password}\r\n".encode())
            if not sock.recv(64).startswith(b"+OK"):
                raise ConnectionError("AUTH refused")
        sock.sendall(b"PING\r\n")
        reply = sock.recv(64)
    if not reply.startswith(b"+PONG"):
        raise ConnectionError(f"unexpected reply to PING: {reply!r}")


def _probe_broker() -> None:
    try:
        from kombu.connection import Connection
    except ImportError:  # The "core" environment installs no extras.
        parts = urlsplit(BROKER_URL)
        socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 5672), TIMEOUT
        ).close()
        return
    with Connection(BROKER_URL, connect_timeout=TIMEOUT) as connection:
        connection.ensure_connection(max_retries=1)


_URLS = {
    "postgres": lambda: DATABASE_URL or DEFAULT_DATABASE_URL,
    "redis": lambda: REDIS_URL,
    "celery": lambda: BROKER_URL,
}


MARKERS = {
    "postgres": "needs the run's default database to be PostgreSQL (DATABASE_URL)",
    "redis": "needs a Redis server (REDIS_URL, default redis://127.0.0.1:6379/0)",
    "celery": "needs a Celery broker (CELERY_BROKER_URL, default amqp://guest:guest@127.0.0.1:5672//)",
    "slow": "slow or load-style test; CI runs it, deselect with -m 'not slow'",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for service, url in _URLS.items():
        problem = probe(service)
        lines.append(
            f"{service}: {redact(url())} ({'up' if problem is None else problem})"
        )
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    if DATABASE_URL and (problem := probe("postgres")):
        # The run asked for this database explicitly: there is nothing to fall back to.
        pytest.exit(
            f"DATABASE_URL={redact(DATABASE_URL)} is unreachable: {problem}",
            returncode=1,
        )
    if not services_required():
        return
    missing = [
        f"{service} at {redact(url())}: {problem}"
        for service, url in _URLS.items()
        if service != "postgres" and (problem := probe(service))
    ]
    if missing:
        pytest.exit(
            "PRODKIT_REQUIRE_SERVICES=1 but " + "; ".join(missing), returncode=1
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for service, url in _URLS.items():
        if item.get_closest_marker(service) is None:
            continue
        if problem := probe(service):
            pytest.skip(f"needs {service} at {redact(url())}: {problem}")
