from __future__ import annotations

from django.apps import AppConfig


class IdempotencyTestsConfig(AppConfig):
    """The idempotency tests' model; its table comes from ``migrate --run-syncdb``."""

    name = "tests.idempotency"
    label = "idempotency_tests"
    default_auto_field = "django.db.models.BigAutoField"
