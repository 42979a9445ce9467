from __future__ import annotations

from django.contrib import admin

from django_prodkit.locking.admin import VersionedAdminMixin
from tests.locking.models import Note


@admin.register(Note)
class NoteAdmin(VersionedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    # The version is left out on purpose: the mixin must carry it anyway.
    fieldsets = [(None, {"fields": ["text", "views"]})]
