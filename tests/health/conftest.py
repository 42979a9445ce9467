from __future__ import annotations

import pytest

from django_prodkit import health
from django_prodkit.health.runner import runner


@pytest.fixture(autouse=True)
def _fresh_results():
    runner.reset()
    yield
    runner.reset()


@pytest.fixture
def register():
    """``register(name, function, **options)`` for the length of one test."""
    names: list[str] = []

    def add(name, function, **options):
        names.append(name)
        health.register(name, function, **options)
        return function

    yield add
    for name in names:
        health.unregister(name)
