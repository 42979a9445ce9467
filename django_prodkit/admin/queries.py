"""The slow-query changelist and detail page: read-only, deletable by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import F, FloatField, QuerySet
from django.db.models.functions import Cast, NullIf
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from django_prodkit.admin import error_html as html
from django_prodkit.queries.models import SlowQuery

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

    _ModelAdmin = admin.ModelAdmin[SlowQuery]
else:  # Subscriptable at run time only with django-stubs-ext, a typing-only extra.
    _ModelAdmin = admin.ModelAdmin

_SUMMARY = (
    "sql_text",
    ("alias", "fingerprint"),
    ("count", "total", "mean", "slowest"),
    ("first_seen", "last_seen"),
    ("last_route", "last_request_id"),
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


class SlowQueryAdmin(_ModelAdmin):
    # The database goes under the SQL, beside the route, and the mean is on the detail
    # page: so every column fits beside the navigation sidebar and the filters.
    list_display = ["query", "count", "total", "slowest", "seen"]
    list_display_links = ["query"]
    list_filter = [("alias", admin.AllValuesFieldListFilter), "last_seen"]
    search_fields = ["sql", "last_route", "^fingerprint"]
    ordering = ["-total_ms"]
    readonly_fields = [
        *(f.name for f in SlowQuery._meta.concrete_fields),
        "sql_text",
        "total",
        "mean",
        "slowest",
        "plan_text",
    ]

    class Media:
        # Files, not inline styles, so that the pages work under a strict CSP.
        css = {"all": ["prodkit/errors.css", "prodkit/queries.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlowQuery]:
        count = Cast(NullIf(F("count"), 0), FloatField())
        return super().get_queryset(request).annotate(avg_ms=F("total_ms") / count)

    @admin.display(description=_("query"))
    def query(self, obj: SlowQuery) -> SafeString:
        where = f"{obj.alias} · {obj.last_route}" if obj.last_route else obj.alias
        return format_html(
            '<span class="prodkit-sql">{}</span><span class="prodkit-culprit">{}</span>',
            Truncator(obj.sql).chars(160),
            where,
        )

    @admin.display(description=_("total (ms)"), ordering="total_ms")
    def total(self, obj: SlowQuery) -> str:
        return _ms(obj.total_ms)

    @admin.display(description=_("mean (ms)"), ordering="avg_ms")
    def mean(self, obj: SlowQuery) -> str:
        return _ms(getattr(obj, "avg_ms", obj.mean_ms))

    @admin.display(description=_("max (ms)"), ordering="max_ms")
    def slowest(self, obj: SlowQuery) -> str:
        return _ms(obj.max_ms)

    @admin.display(description=_("last seen"), ordering="last_seen")
    def seen(self, obj: SlowQuery) -> SafeString:
        return html.when(obj.last_seen)

    @admin.display(description=_("SQL"))
    def sql_text(self, obj: SlowQuery) -> SafeString:
        return html.pre(obj.sql)

    @admin.display(description=_("plan"))
    def plan_text(self, obj: SlowQuery) -> SafeString:
        return html.pre(obj.plan, "prodkit-pre prodkit-traceback")

    def get_fieldsets(
        self, request: HttpRequest, obj: SlowQuery | None = None
    ) -> _FieldsetSpec:
        fieldsets: list[tuple[Any, Any]] = [(None, {"fields": _SUMMARY})]
        if obj is not None and obj.plan:
            fieldsets.append(
                (_("Plan"), {"fields": ["plan_text", "plan_at"], "classes": ["wide"]})
            )
        return fieldsets

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: SlowQuery | None = None
    ) -> bool:
        return False
