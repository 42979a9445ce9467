from __future__ import annotations

from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "tests.gate.shop"
    label = "gate_shop"
    default_auto_field = "django.db.models.BigAutoField"
