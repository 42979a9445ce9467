"""Real servers for the rate-limit tests: a private redis-server, and HTTP servers.

- ``RedisServer``: a ``redis-server`` of the test's own, which a test can stop, start again
  on the same port, or freeze (``SIGSTOP``: connections open, nothing answers).
- ``serve()``: a threaded WSGI server inside the test process, built from the settings in
  force when it starts (pytest-django's session-wide ``live_server`` keeps the middleware it
  started with).
- ``ServerProcess``: the same server in a separate Python process
  (``python -m tests.ratelimit.servers``, settings from ``tests.ratelimit.server_settings``).
- ``fetch()``: one HTTP request on its own connection, no client-side magic;
- ``with_limiter()`` (``MIDDLEWARE`` with the limiter in place) and ``steady()`` (keep a
  test clear of the end of a fixed window).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django_ratelimit.core import _get_window

from tests.services import REDIS_URL, services_required

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_url(db: int, base: str = REDIS_URL) -> str:
    """``base`` (the run's ``REDIS_URL``) pointing at database ``db``."""
    return urlunsplit(urlsplit(base)._replace(path=f"/{db}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def require_redis_server() -> None:
    """Skip (or fail, under PRODKIT_REQUIRE_SERVICES=1) without a redis-server binary."""
    if shutil.which(REDIS_SERVER):
        return
    message = f"needs {REDIS_SERVER} to start a private Redis"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


class RedisServer:
    """A throw-away ``redis-server`` on a fixed port, with no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            raise RuntimeError("already running")
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server (no shutdown courtesy): clients see refused connections."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # In case it was frozen.
            process.kill()
        process.wait(10)

    def freeze(self) -> None:
        """Stop the process without closing anything: every call waits for its timeout."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.process is not None and ping(self.port)


# Settings and time ----------------------------------------------------------------

RATELIMIT_MIDDLEWARE = "django_prodkit.ratelimit.RateLimitMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def with_limiter(middleware: list[str]) -> list[str]:
    """``MIDDLEWARE`` with ``RateLimitMiddleware`` right after authentication."""
    position = middleware.index(AUTH_MIDDLEWARE) + 1
    return [*middleware[:position], RATELIMIT_MIDDLEWARE, *middleware[position:]]


def steady(algorithm: str, *keys: str, period: int = 60, margin: float = 3.0) -> None:
    """With fixed windows, wait until no window of ``keys`` ends in the next ``margin`` s.

    django-ratelimit staggers each key's window; a test that crossed a window's end would
    see the count start over.
    """
    if algorithm != "fixed":
        return
    while True:
        ends = [_get_window(key, period) + 1 for key in keys]
        left = min(ends) - time.time()
        if left > margin:
            return
        time.sleep(left + 0.05)


# HTTP -----------------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadedWSGIServer):
    daemon_threads = True
    request_queue_size = 256  # Many clients at once must not meet a full backlog.

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # A client that went away is not the test's business.


def make_server(
    port: int = 0, connections_override: Mapping[str, Any] | None = None
) -> Server:
    from django.core.handlers.wsgi import WSGIHandler

    server = Server(
        ("127.0.0.1", port),
        QuietHandler,
        allow_reuse_address=True,
        connections_override=connections_override,
    )
    server.set_app(WSGIHandler())  # Loads MIDDLEWARE as it is now.
    return server


@contextlib.contextmanager
def serve(*, share_memory_db: bool = False) -> Iterator[str]:
    """A threaded WSGI server in this process; yields its base URL.

    With ``share_memory_db``, for views that write to the database: an in-memory SQLite
    database lives as long as a connection to it, so the server's threads share this
    thread's, as Django's LiveServerTestCase does, rather than open their own, which
    Django never closes.
    """
    from django.db import connections
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

    shared = {
        connection.alias: connection
        for connection in connections.all()
        if share_memory_db
        and isinstance(connection, SQLiteWrapper)
        and connection.is_in_memory_db()
    }
    for connection in shared.values():
        connection.inc_thread_sharing()
    server = make_server(connections_override=shared)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        for connection in shared.values():
            connection.dec_thread_sharing()


class Response:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.body = body


def fetch(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> Response:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    try:
        connection.request("GET", parts.path or "/", headers=dict(headers or {}))
        response = connection.getresponse()
        return Response(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


class ServerProcess:
    """``python -m tests.ratelimit.servers``: a WSGI server in a process of its own."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        # A file, not a pipe: a chatty server must never block on a full pipe.
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.ratelimit.servers"],
            cwd=ROOT,
            env={
                **os.environ,
                **environment,
                "DJANGO_SETTINGS_MODULE": "tests.ratelimit.server_settings",
                "PYTHONPATH": str(ROOT),
            },
            stdout=subprocess.PIPE,
            stderr=self._errors,
        )
        self.url = ""
        self.stderr = ""

    def wait_ready(self, timeout: float = 30.0) -> str:
        """The server's URL, once it answers (its first line on stdout is its port)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"server process did not start: {line!r} {self.stderr}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                fetch(self.url + "/health/live/", timeout=2)
                return self.url
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._errors.seek(0)
        self.stderr = self._errors.read().decode(errors="replace")
        self._errors.close()


def main() -> None:
    import django

    django.setup()
    server = make_server()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
