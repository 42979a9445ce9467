"""Fixtures of the job tests: a clean writer and closed breakers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_prodkit import jobs
from django_prodkit.breaker import breakers
from django_prodkit.jobs.writer import writer


@pytest.fixture(autouse=True)
def _clean_writer() -> Iterator[None]:
    """Nothing pending from an earlier test, and nothing left for a later one."""
    jobs.flush()
    writer.log_pending("an earlier test left it")
    writer.reset_counters()
    for breaker in breakers().values():
        breaker.reset()
    yield
    jobs.flush()
    writer.log_pending("the test left it")
    for breaker in breakers().values():
        breaker.reset()
