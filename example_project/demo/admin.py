from __future__ import annotations

from django.contrib import admin

from demo.models import Note, Order
from django_prodkit.locking.admin import VersionedAdminMixin


@admin.register(Note)
class NoteAdmin(VersionedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["__str__", "version", "updated_at"]
    fields = ["text"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["item", "quantity", "created_at"]
