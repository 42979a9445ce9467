"""A really migrated database for the gate's subprocess runs, and the way to run them.

On a PostgreSQL run (``DATABASE_URL``) the database is a fresh PostgreSQL database,
dropped at the end; otherwise a SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.services import DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
PROD_SETTINGS = "tests.gate.prod_settings"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="session")
def gate_database_url(tmp_path_factory) -> Iterator[str]:
    # The production-like settings cache in django-redis, which the "core" environment
    # does not install.
    pytest.importorskip("django_redis")
    if DATABASE_URL.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = f"prodkit_gate_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(DATABASE_URL)._replace(path=f"/{name}"))
        try:
            _migrate(url)
            yield url
        finally:
            with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path_factory.mktemp("gate") / "gate.sqlite3"
        url = f"sqlite:///{path}"
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    done = manage(url, "migrate", "--no-input", "-v", "0")
    assert done.returncode == 0, done.stderr


def manage(
    database_url: str, *args: str, settings: str = PROD_SETTINGS, path=()
) -> Run:
    """``python -m django ARGS`` in a process of its own, timed."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *map(str, path)]),
        "PRODKIT_GATE_DATABASE_URL": database_url,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "django", *args, "--settings", settings],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - start)


@pytest.fixture
def gate(gate_database_url, tmp_path):
    """Run ``prodkit_check ARGS`` on the production-like settings plus ``extra`` lines."""

    def run(*args: str, extra: str = "") -> Run:
        settings = PROD_SETTINGS
        if extra:
            settings = f"variant_{uuid.uuid4().hex[:8]}"
            (tmp_path / f"{settings}.py").write_text(
                f"from {PROD_SETTINGS} import *  # noqa: F403\n{extra}\n"
            )
        return manage(
            gate_database_url,
            "prodkit_check",
            *args,
            settings=settings,
            path=[tmp_path],
        )

    return run
