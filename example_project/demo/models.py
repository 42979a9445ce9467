from __future__ import annotations

from django.db import models

from django_prodkit.locking import VersionedModel


class Note(VersionedModel):
    """A note that several people edit: a stale save is refused (409), never lost."""

    text = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.text[:50]

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.pk,
            "text": self.text,
            "version": self.version,
            "updated_at": self.updated_at.isoformat(),
        }


class Order(models.Model):
    """An order that a client may POST twice: its Idempotency-Key makes it one order."""

    item = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.item}"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.pk,
            "item": self.item,
            "quantity": self.quantity,
            "created_at": self.created_at.isoformat(),
        }
