"""The health history changelist: recorded runs, read-only, deletable by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_prodkit.health.models import HealthCheckRun

# The admin's own icons: coloured, served from static files, fine under a strict CSP
# (an inline style attribute would not be).
_ICONS: dict[str, str] = {
    HealthCheckRun.Status.OK: "admin/img/icon-yes.svg",
    HealthCheckRun.Status.WARN: "admin/img/icon-alert.svg",
    HealthCheckRun.Status.FAIL: "admin/img/icon-no.svg",
}


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[HealthCheckRun]
else:  # Subscriptable at run time only with django-stubs-ext, a typing-only extra.
    _ModelAdmin = admin.ModelAdmin


class HealthCheckRunAdmin(_ModelAdmin):
    list_display = ["name", "status_label", "critical", "latency", "created_at"]
    list_filter = [
        "status",
        "critical",
        ("name", admin.AllValuesFieldListFilter),
        "created_at",
    ]
    date_hierarchy = "created_at"
    search_fields = ["name", "message"]
    fields = [
        "name",
        "status",
        "critical",
        "latency_ms",
        "message",
        "round",
        "created_at",
    ]

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, obj: HealthCheckRun) -> SafeString:
        icon = _ICONS.get(obj.status, "admin/img/icon-unknown.svg")
        return format_html(
            '<img src="{}" alt="{}"> {}',
            static(icon),
            obj.status,
            obj.get_status_display(),
        )

    @admin.display(description=_("latency"), ordering="latency_ms")
    def latency(self, obj: HealthCheckRun) -> str:
        return f"{obj.latency_ms:.2f} ms"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: HealthCheckRun | None = None
    ) -> bool:
        return False
