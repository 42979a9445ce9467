"""Fixtures of the error tests: a clean writer and quick flushes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_prodkit import errors
from django_prodkit.breaker import breakers
from django_prodkit.errors import capture
from django_prodkit.errors.writer import writer


@pytest.fixture
def redis_db_number() -> int:
    return 14


@pytest.fixture(autouse=True)
def _clean_writer() -> Iterator[None]:
    """Nothing pending from an earlier test, and nothing left for a later one."""
    errors.flush()
    writer.reset_counters()
    capture._failures.clear()  # Each test sees its own first capture failure logged.
    for breaker in breakers().values():
        breaker.reset()
    yield
    errors.flush()
    for breaker in breakers().values():
        breaker.reset()
