"""Optimistic locking: ``VersionedModel`` saves with one conditional UPDATE.

A save of a row read from the database runs
``UPDATE ... SET ..., version = N + 1 WHERE pk = %s AND version = N`` (SQL built once per
table and column set, or ``QuerySet.update()`` when a value needs the ORM; see
``statements``) and reads its row count. One row: the save won. Zero rows: someone
else changed or deleted the row since it was read; a second query tells which, and
``ConflictError`` says so. Nothing here overrides a private ORM method, so the same code
runs on Django 5.2 and 6.x.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

from django import forms
from django.db import models, router, transaction
from django.db.models import F
from django.db.models.base import ModelBase
from django.db.models.options import Options
from django.db.models.signals import post_save, pre_save

from django_prodkit.exceptions import ConflictError
from django_prodkit.locking.statements import update_row

__all__ = [
    "VERSION_FIELD",
    "VersionField",
    "VersionedManager",
    "VersionedModel",
    "VersionedQuerySet",
    "unversioned_updates",
]

VERSION_FIELD = "version"

_M = TypeVar("_M", bound=models.Model)

# Whether ``VersionedQuerySet.update()`` bumps versions in this context (thread or task).
_bump_versions: ContextVar[bool] = ContextVar("prodkit_bump_versions", default=True)


@contextmanager
def unversioned_updates() -> Iterator[None]:
    """Let ``QuerySet.update()`` of versioned models leave versions alone in this block.

    For bulk jobs whose changes must not make open edit forms stale. It holds only for
    the current thread or task (a context variable), never for the whole process.
    """
    token = _bump_versions.set(False)
    try:
        yield
    finally:
        _bump_versions.reset(token)


class VersionField(models.PositiveIntegerField):  # type: ignore[type-arg]
    """The row's version: 1 on insert, one more on every save and update.

    In a ModelForm it is a hidden, required field, so that a form posts back the
    version it was rendered with and a stale post is refused instead of overwriting.
    """

    description = "Row version for optimistic locking"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", 1)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs: Any) -> forms.Field | None:
        return super().formfield(**{"widget": forms.HiddenInput, **kwargs})


class VersionedQuerySet(models.QuerySet[_M]):
    """A QuerySet whose ``update()`` also increments the version of every row it updates.

    A stale instance loaded before a bulk update then conflicts instead of silently
    overwriting the bulk change. ``unversioned_updates()`` turns this off for a block.
    """

    def update(self, **kwargs: Any) -> int:
        if VERSION_FIELD not in kwargs and _bump_versions.get():
            kwargs[VERSION_FIELD] = F(VERSION_FIELD) + 1
        return super().update(**kwargs)


class VersionedManager(models.Manager.from_queryset(VersionedQuerySet)):  # type: ignore[misc]
    """The default manager of ``VersionedModel``."""


class VersionedModel(models.Model):
    """An abstract model with optimistic locking on ``save()`` and ``delete()``.

    A save or delete of an instance read from the database succeeds only if the row
    still has the instance's ``version``; otherwise it raises ``ConflictError`` and
    writes nothing. ``QuerySet.update()`` through the default manager bumps versions.
    """

    version = VersionField()

    objects: ClassVar[VersionedManager] = VersionedManager()

    class Meta:
        abstract = True

    def save_base(
        self,
        raw: bool = False,
        force_insert: bool | tuple[ModelBase, ...] = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
    ) -> None:
        # ``save()`` has already done Django's own preparation (related objects,
        # deferred fields, update_fields names); only the write itself differs.
        using = using or router.db_for_write(type(self), instance=self)
        if raw or force_insert or self._state.adding or self._state.db != using:
            super().save_base(
                raw=raw,
                force_insert=force_insert,
                force_update=force_update,
                using=using,
                update_fields=update_fields,
            )
            return
        self._save_versioned(using, update_fields)

    def _save_versioned(self, using: str, update_fields: Iterable[str] | None) -> None:
        origin = type(self)
        meta = self._concrete_meta()
        if meta.parents:
            raise NotImplementedError(
                f"{origin._meta.label}: a VersionedModel cannot have concrete parent "
                "models (multi-table inheritance); see prodkit.E050."
            )
        if VERSION_FIELD in self.get_deferred_fields():
            raise ValueError(
                f"{origin._meta.label}: cannot save an instance whose version was "
                "deferred (only()/defer()): the version it was read at is unknown."
            )
        if update_fields is not None:
            update_fields = frozenset(update_fields) | {VERSION_FIELD}
        pre_save.send(
            sender=origin,
            instance=self,
            raw=False,
            using=using,
            update_fields=update_fields,
        )
        fields = [
            field
            for field in meta.local_concrete_fields
            if field not in meta.pk_fields
            and not field.generated
            and field.name != VERSION_FIELD
            and (
                update_fields is None
                or field.name in update_fields
                or field.attname in update_fields
            )
        ]
        values = [field.pre_save(self, False) for field in fields]
        expected = self.version
        version = meta.get_field(VERSION_FIELD)
        assert isinstance(version, models.Field)
        rows = update_row(meta, using, fields, values, self.pk, version, expected)
        if rows is None:
            rows = (
                meta.base_manager.db_manager(using)
                .filter(pk=self.pk, version=expected)
                .update(
                    **{f.attname: v for f, v in zip(fields, values, strict=True)},
                    version=expected + 1,
                )
            )
        if not rows:
            raise self._conflict(using, expected)
        self.version = expected + 1
        self._state.db = using
        self._state.adding = False
        post_save.send(
            sender=origin,
            instance=self,
            created=False,
            update_fields=update_fields,
            raw=False,
            using=using,
        )

    def delete(
        self, using: str | None = None, keep_parents: bool = False
    ) -> tuple[int, dict[str, int]]:
        """Delete the row if it still has this instance's version, else ``ConflictError``.

        The version check is an UPDATE that also locks the row until the delete
        commits, so a concurrent save waits and then finds the row gone.
        """
        using = using or router.db_for_write(type(self), instance=self)
        if self._state.adding or self.pk is None:
            return super().delete(using=using, keep_parents=keep_parents)
        expected = self.version
        manager = self._concrete_meta().base_manager.db_manager(using)
        with transaction.atomic(using=using, savepoint=False):
            claimed = manager.filter(pk=self.pk, version=expected).update(
                version=expected + 1
            )
            if claimed:
                return super().delete(using=using, keep_parents=keep_parents)
        # Raised outside the atomic block, so a caller's own transaction stays usable.
        raise self._conflict(using, expected)

    def _concrete_meta(self) -> Options[Any]:
        # A proxy's rows live in its concrete model's table.
        return (type(self)._meta.concrete_model or type(self))._meta

    def _conflict(self, using: str, expected: int) -> ConflictError:
        manager = self._concrete_meta().base_manager.db_manager(using)
        current = (
            manager.filter(pk=self.pk).values_list(VERSION_FIELD, flat=True).first()
        )
        return ConflictError(type(self), self.pk, expected, current)
