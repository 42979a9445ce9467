"""Exceptions shared by every capability."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.db import DatabaseError

if TYPE_CHECKING:
    from django.db.models import Model


class ServiceUnavailable(Exception):
    """Raised by a health check whose service is down: the check's status is ``fail``."""

    def __init__(self, message: str, *, details: Mapping[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, object] = details or {}


class ServiceWarning(ServiceUnavailable):
    """Raised by a health check whose service works but needs attention: ``warn``."""


try:  # Django 6.0+: the base of ``Model.NotUpdated``.
    from django.core.exceptions import ObjectNotUpdated

    _CONFLICT_BASES: tuple[type[Exception], ...] = (ObjectNotUpdated, DatabaseError)
except ImportError:  # Django 5.2
    _CONFLICT_BASES = (DatabaseError,)


class ConflictError(*_CONFLICT_BASES):  # type: ignore[misc]
    """A write to a versioned row that someone else changed or deleted since it was read.

    ``version`` is the version the write expected; ``current_version`` is the row's
    version now, or ``None`` when the row no longer exists. On Django 6.x it is also an
    ``ObjectNotUpdated``, so code that catches Django's own error catches this one.
    """

    def __init__(
        self,
        model: type[Model],
        pk: object,
        version: int | None,
        current_version: int | None,
    ) -> None:
        self.model = model
        self.pk = pk
        self.version = version
        self.current_version = current_version
        self.deleted = current_version is None
        label = model._meta.label
        if self.deleted:
            message = f"{label} {pk!r} was deleted by someone else"
        else:
            message = (
                f"{label} {pk!r} was changed by someone else: "
                f"this write expected version {version}, the row is at {current_version}"
            )
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, object]:
        """The JSON body of a 409 answer."""
        return {
            "error": "conflict",
            "model": self.model._meta.label_lower,
            "pk": self.pk,
            "current_version": self.current_version,
            "detail": self.message,
        }
