"""The CSP report changelist: violation groups, read-only, deletable by hand."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.translation import gettext_lazy as _

from django_prodkit.security.models import CSPReport

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[CSPReport]
else:  # Subscriptable at run time only with django-stubs-ext, a typing-only extra.
    _ModelAdmin = admin.ModelAdmin


class CSPReportAdmin(_ModelAdmin):
    list_display = [
        "directive",
        "blocked_uri",
        "document_uri",
        "count",
        "first_seen_at",
        "last_seen_at",
    ]
    list_filter = [
        ("directive", admin.AllValuesFieldListFilter),
        "disposition",
        "last_seen",
    ]
    date_hierarchy = "last_seen"
    search_fields = ["blocked_uri", "document_uri", "source_file", "directive"]
    ordering = ["-last_seen"]
    fields = [
        "directive",
        "disposition",
        "blocked_uri",
        "document_uri",
        "source_file",
        "line_number",
        "count",
        "first_seen",
        "last_seen",
        "sample",
        "fingerprint",
    ]

    # A compact date and time: the default format is wide enough to push the last
    # columns off a 1280-pixel screen.
    @admin.display(description=_("first seen"), ordering="first_seen")
    def first_seen_at(self, obj: CSPReport) -> str:
        return _compact(obj.first_seen)

    @admin.display(description=_("last seen"), ordering="last_seen")
    def last_seen_at(self, obj: CSPReport) -> str:
        return _compact(obj.last_seen)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: CSPReport | None = None
    ) -> bool:
        return False


def _compact(value: datetime.datetime) -> str:
    return format_date(timezone.localtime(value), "Y-m-d H:i")
