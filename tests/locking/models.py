from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models

from django_prodkit.locking import VersionedModel


class Folder(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Note(VersionedModel):
    text = models.CharField(max_length=200)
    views = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    data = models.JSONField(default=dict)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    ref = models.UUIDField(default=uuid.uuid4)
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return self.text


class NoteProxy(Note):
    class Meta:
        proxy = True


class Comment(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE)
    text = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.text
