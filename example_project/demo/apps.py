from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "django-prodkit demo"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from demo.db import add_sqlite_sleep

        connection_created.connect(
            add_sqlite_sleep, dispatch_uid="demo.add_sqlite_sleep"
        )
