from __future__ import annotations

import time

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

# One statement per backend that keeps the database busy for %s seconds.
_SLEEP_SQL = {
    "postgresql": "SELECT pg_sleep(%s)",
    "mysql": "SELECT SLEEP(%s)",
    "sqlite": "SELECT demo_sleep(%s)",
}


def add_sqlite_sleep(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: object
) -> None:
    """Give each new SQLite connection ``demo_sleep(seconds)``, which SQLite lacks."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("demo_sleep", 1, _sleep)


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def sleep_query(seconds: float) -> float:
    """Run one SQL statement that takes ``seconds`` on the database; return elapsed ms."""
    sql = _SLEEP_SQL.get(connection.vendor)
    if sql is None:
        raise NotImplementedError(f"no sleep statement for {connection.vendor}")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [seconds])
    return (time.perf_counter() - started) * 1000
