from __future__ import annotations

from django.db import models


class Order(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    note = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.reference
