from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from django_prodkit.logs import RequestIDFilter

pytest_plugins = ["tests.redis_fixtures"]


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """Records reaching the root logger at INFO, through a handler with RequestIDFilter."""
    handler = ListHandler()
    handler.addFilter(RequestIDFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
