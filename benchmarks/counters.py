"""Helpers shared by the benchmarks that count what a request does."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

__all__ = ["Database", "counting", "database_from_env", "redacted", "server_label"]


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


class Database(NamedTuple):
    """The ``default`` database of a benchmark that uses one."""

    settings: dict[str, object]
    label: str  # printed with the results
    postgres_url: str | None  # the DATABASE_URL when it is PostgreSQL, else None


def server_label(database: Database) -> str:
    """The database server's name and version, then how the benchmark reached it."""
    import sqlite3

    from django.db import connection

    if connection.vendor == "postgresql":
        number: int = connection.pg_version  # type: ignore[attr-defined]
        server = f"PostgreSQL {number // 10000}.{number % 10000}"
    else:
        server = f"SQLite {sqlite3.sqlite_version}"
    return f"{server}; {database.label}"


def database_from_env(benchmark: str, conn_max_age: int) -> Database:
    """PostgreSQL when ``DATABASE_URL`` (a ``postgres://`` URL) is set, else SQLite in memory."""
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        return Database(
            {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": ":memory:",
                "CONN_MAX_AGE": conn_max_age,
            },
            "SQLite :memory: (set DATABASE_URL for PostgreSQL)",
            None,
        )
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(
            f"{benchmark} benchmark: DATABASE_URL must be a postgres:// URL, not {parts.scheme}://"
        )
    return Database(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": conn_max_age,
        },
        f"PostgreSQL at {redacted(database_url)}, CONN_MAX_AGE={conn_max_age}",
        database_url,
    )


@contextmanager
def counting(
    owner: Any, name: str, record: Callable[..., None], *, is_async: bool = False
) -> Iterator[None]:
    """Call ``record(*args)`` on every call of the method ``owner.name``, in any thread.

    ``args`` are the call's positional arguments after ``self``. The method must be a
    plain function in the class's ``__dict__``; it is put back on exit.
    """
    original = owner.__dict__[name]
    wrapper: Callable[..., Any]
    if is_async:

        @functools.wraps(original)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            record(*args)
            return await original(self, *args, **kwargs)

    else:

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            record(*args)
            return original(self, *args, **kwargs)

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)
