from __future__ import annotations

from django.apps import AppConfig


class LockingTestsConfig(AppConfig):
    name = "tests.locking"
    label = "locking_tests"
    default_auto_field = "django.db.models.BigAutoField"
