"""The error group changelist and detail page: triage captured errors, never edit them.

Captured fields are read-only; the status changes only through the actions (resolve,
ignore, reopen) and the matching buttons of the detail page, each one ``UPDATE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from django_prodkit import conf
from django_prodkit.admin import error_html as html
from django_prodkit.errors.models import ErrorGroup

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts, _FieldsetSpec

    _ModelAdmin = admin.ModelAdmin[ErrorGroup]
else:  # Subscriptable at run time only with django-stubs-ext, a typing-only extra.
    _ModelAdmin = admin.ModelAdmin

Status = ErrorGroup.Status
# The detail page's buttons: POST name -> new status.
BUTTONS = {
    "_resolve": Status.RESOLVED,
    "_ignore": Status.IGNORED,
    "_reopen": Status.UNRESOLVED,
}
_SUMMARY = (
    "message_text",
    ("exception_type", "culprit"),
    ("severity_badge", "status_badge", "source"),
    ("count", "times_regressed"),
    ("first_seen", "last_seen"),
    ("resolved_at", "regressed_at"),
    "logger",
    ("sentry_event", "fingerprint"),
)
_REQUEST_FIELDS = (
    ("request_method", "request_path"),
    "request_route",
    ("user_id", "request_id"),
)
_REQUEST_PARTS = ["headers", "query", "form", "json", "cookies"]
_WIDE = ("prodkit-wide",)
# No inline styles or scripts here, so the pages work under a strict CSP.
_CSS = "prodkit/errors.css"


def set_status(queryset: QuerySet[ErrorGroup], status: str) -> int:
    """Move the groups of ``queryset`` to ``status`` in one UPDATE; the number moved."""
    resolved_at = timezone.now() if status == Status.RESOLVED else None
    changed = queryset.exclude(status=status).update(
        status=status, resolved_at=resolved_at
    )
    return int(changed)


class ErrorGroupChangeList(ChangeList):
    def get_queryset(
        self, request: HttpRequest, exclude_parameters: list[str | None] | None = None
    ) -> QuerySet[ErrorGroup]:
        # A traceback and its context run to tens of kilobytes; the list shows neither.
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer("traceback", "context")


class ErrorGroupAdmin(_ModelAdmin):
    list_display = [
        "title",
        "state",
        "occurrences",
        "first_seen_at",
        "last_seen_at",
    ]
    list_display_links = ["title"]
    list_filter = ["status", "severity", "source", "last_seen"]
    show_facets = admin.ShowFacets.ALWAYS
    date_hierarchy = "last_seen"
    search_fields = [
        "message",
        "exception_type",
        "culprit",
        "^fingerprint",
        "request_path",
        "request_id",
        "user_id",
    ]
    ordering = ["-last_seen"]
    actions = ["resolve", "ignore", "reopen"]
    readonly_fields = [
        *(f.name for f in ErrorGroup._meta.concrete_fields),
        "message_text",
        "severity_badge",
        "status_badge",
        "sentry_event",
        *(f"request_{part}" for part in _REQUEST_PARTS),
        "traceback_text",
        "frame_locals",
        "task_details",
    ]

    class Media:
        css = {"all": [_CSS]}

    # The changelist.

    def get_changelist(
        self, request: HttpRequest, **kwargs: Any
    ) -> type[ErrorGroupChangeList]:
        return ErrorGroupChangeList

    # The culprit goes under the title and the severity next to the status, not in
    # columns of their own: with the admin's sidebar and the filters open, eight
    # columns do not fit a 1280-pixel screen.
    @admin.display(description=_("error"))
    def title(self, obj: ErrorGroup) -> SafeString:
        return format_html(
            '{}<span class="prodkit-culprit">{}</span>',
            html.breakable(Truncator(str(obj)).chars(120)),
            html.breakable(obj.culprit),
        )

    @admin.display(description=_("count"), ordering="count")
    def occurrences(self, obj: ErrorGroup) -> int:
        return obj.count

    @admin.display(description=_("status"), ordering="status")
    def state(self, obj: ErrorGroup) -> SafeString:
        return format_html("{} {}", self.status_badge(obj), self.severity_badge(obj))

    @admin.display(description=_("severity"), ordering="severity")
    def severity_badge(self, obj: ErrorGroup) -> SafeString:
        return html.badge(obj.severity, obj.get_severity_display())

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: ErrorGroup) -> SafeString:
        return html.badge(obj.status, obj.get_status_display())

    @admin.display(description=_("first seen"), ordering="first_seen")
    def first_seen_at(self, obj: ErrorGroup) -> SafeString:
        return html.when(obj.first_seen)

    @admin.display(description=_("last seen"), ordering="last_seen")
    def last_seen_at(self, obj: ErrorGroup) -> SafeString:
        return html.when(obj.last_seen)

    # The actions: the change permission, one UPDATE each.

    @admin.action(
        description=_("Resolve selected error groups"), permissions=["change"]
    )
    def resolve(self, request: HttpRequest, queryset: QuerySet[ErrorGroup]) -> None:
        self._report(request, set_status(queryset, Status.RESOLVED), Status.RESOLVED)

    @admin.action(description=_("Ignore selected error groups"), permissions=["change"])
    def ignore(self, request: HttpRequest, queryset: QuerySet[ErrorGroup]) -> None:
        self._report(request, set_status(queryset, Status.IGNORED), Status.IGNORED)

    @admin.action(description=_("Reopen selected error groups"), permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[ErrorGroup]) -> None:
        self._report(
            request, set_status(queryset, Status.UNRESOLVED), Status.UNRESOLVED
        )

    def _report(self, request: HttpRequest, changed: int, status: str) -> None:
        text = {
            Status.RESOLVED: ngettext(
                "%(count)d error group was resolved.",
                "%(count)d error groups were resolved.",
                changed,
            ),
            Status.IGNORED: ngettext(
                "%(count)d error group is now ignored.",
                "%(count)d error groups are now ignored.",
                changed,
            ),
            Status.UNRESOLVED: ngettext(
                "%(count)d error group was reopened.",
                "%(count)d error groups were reopened.",
                changed,
            ),
        }[Status(status)]
        level = messages.SUCCESS if changed else messages.WARNING
        self.message_user(request, text % {"count": changed}, level)

    # The detail page: read-only, with status buttons for those who may change.

    def get_fieldsets(
        self, request: HttpRequest, obj: ErrorGroup | None = None
    ) -> _FieldsetSpec:
        if obj is None:
            return [(None, {"fields": _SUMMARY})]
        fieldsets: list[tuple[Any, _FieldOpts]] = [(_("Summary"), {"fields": _SUMMARY})]
        request_data = html.section(obj, "request")
        if obj.request_path or request_data:
            parts = [f"request_{p}" for p in _REQUEST_PARTS if request_data.get(p)]
            fieldsets.append(
                (_("Last request"), {"fields": (*_REQUEST_FIELDS, *parts)})
            )
        if obj.traceback:
            fieldsets.append(
                (_("Traceback"), {"fields": ["traceback_text"], "classes": _WIDE})
            )
        if html.frames(obj):
            fieldsets.append(
                (_("Local variables"), {"fields": ["frame_locals"], "classes": _WIDE})
            )
        if html.section(obj, "task"):
            fieldsets.append((_("Task"), {"fields": ["task_details"]}))
        return fieldsets

    @admin.display(description=_("message"))
    def message_text(self, obj: ErrorGroup) -> SafeString:
        return html.pre(obj.message)

    @admin.display(description=_("Sentry event"))
    def sentry_event(self, obj: ErrorGroup) -> str:
        event_id = obj.sentry_event_id
        template = conf.get().errors.sentry_event_url
        if not event_id:
            return self.get_empty_value_display()
        if not template:
            return event_id
        url = template.replace("{event_id}", quote(event_id, safe=""))
        return format_html(
            '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
            url,
            event_id,
        )

    @admin.display(description=_("headers"))
    def request_headers(self, obj: ErrorGroup) -> SafeString:
        return html.table(html.section(obj, "request").get("headers"))

    @admin.display(description=_("query"))
    def request_query(self, obj: ErrorGroup) -> SafeString:
        return html.table(html.section(obj, "request").get("query"))

    @admin.display(description=_("form"))
    def request_form(self, obj: ErrorGroup) -> SafeString:
        return html.table(html.section(obj, "request").get("form"))

    @admin.display(description=_("JSON body"))
    def request_json(self, obj: ErrorGroup) -> SafeString:
        return html.pre(html.pretty(html.section(obj, "request").get("json")))

    @admin.display(description=_("cookies"))
    def request_cookies(self, obj: ErrorGroup) -> str:
        names = html.section(obj, "request").get("cookies")
        return ", ".join(map(str, names)) if isinstance(names, list) else ""

    @admin.display(description=_("traceback"))
    def traceback_text(self, obj: ErrorGroup) -> SafeString:
        return html.pre(obj.traceback, "prodkit-pre prodkit-traceback")

    @admin.display(description=_("local variables"))
    def frame_locals(self, obj: ErrorGroup) -> SafeString:
        return html.frame_locals(obj)

    @admin.display(description=_("task"))
    def task_details(self, obj: ErrorGroup) -> SafeString:
        return html.table(html.section(obj, "task"))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(require_POST(self.status_view))
        name = f"{self.opts.app_label}_{self.opts.model_name}_status"
        return [path("<path:object_id>/status/", view, name=name), *super().get_urls()]

    def status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        group = self.get_object(request, unquote(object_id))
        if group is None:
            raise Http404
        if not self.has_change_permission(request, group):
            raise PermissionDenied
        status = next((BUTTONS[key] for key in BUTTONS if key in request.POST), None)
        if status is None:
            return HttpResponse(_("No status given."), status=400)
        queryset = self.get_queryset(request).filter(pk=group.pk)
        self._report(request, set_status(queryset, status), status)
        url = reverse(self._url_name("change"), args=[group.pk])
        query = request.GET.urlencode()
        return HttpResponseRedirect(f"{url}?{query}" if query else url)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            # Saving would write back every captured field as it was when the page
            # was rendered, over the writer's newer occurrences.
            raise PermissionDenied
        context: dict[str, Any] = {
            "title": _("Error group"),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            **(extra_context or {}),
        }
        return super().changeform_view(request, object_id, form_url, context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ErrorGroup | None = None,
    ) -> HttpResponse:
        if obj is not None and self.has_change_permission(request, obj):
            url = reverse(self._url_name("status"), args=[obj.pk])
            preserved = self.get_preserved_filters(request)
            context["status_url"] = f"{url}?{preserved}" if preserved else url
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _url_name(self, view: str) -> str:
        opts = self.opts
        return f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{view}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
