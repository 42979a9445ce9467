"""Deterministic checks and settings shared by the health tests."""

from __future__ import annotations

from django_prodkit.exceptions import ServiceUnavailable, ServiceWarning
from django_prodkit.health import Check

# Every built-in off: only the checks a test registers run.
ONLY_CUSTOM: dict[str, object] = {
    "DATABASE": {"ENABLED": False},
    "CACHE": {"ENABLED": False},
    "REDIS": {"ENABLED": False},
    "MIGRATIONS": {"ENABLED": False},
    "DISK": {"ENABLED": False},
    "MEMORY": {"ENABLED": False},
    "BROKER": {"ENABLED": False},
}


def passing_check() -> None:
    return None


def warning_check() -> None:
    raise ServiceWarning("queue is 80% full")


def failing_check() -> None:
    raise ServiceUnavailable("payments API did not answer")


def queue_depth() -> None:
    raise ServiceWarning("42 jobs waiting")


class Always(Check):
    def run(self) -> dict[str, object]:
        return {"always": True}


always = Always(name="always-ok", critical=False, timeout=1.0)
not_a_check = 42
