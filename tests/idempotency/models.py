from __future__ import annotations

from django.db import models


class Order(models.Model):
    """What the views under test create: one row per time a view really ran."""

    item = models.CharField(max_length=100)

    class Meta:
        app_label = "idempotency_tests"

    def __str__(self) -> str:
        return self.item
