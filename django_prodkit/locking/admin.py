"""The admin side of optimistic locking: a stale change form is refused, not saved."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html
from django.utils.translation import gettext as _

from django_prodkit.exceptions import ConflictError
from django_prodkit.locking.forms import VersionedModelForm
from django_prodkit.locking.models import VERSION_FIELD

__all__ = ["VersionedAdminForm", "VersionedAdminMixin"]


def stale_message(opts: Any, reload_url: str) -> str:
    return format_html(
        _(
            "This {name} was changed by someone else since you opened it. "
            'Your changes were not saved. <a href="{url}">Reload it</a> to see '
            "the current version, then make your changes again."
        ),
        name=opts.verbose_name,
        url=reload_url,
    )


class VersionedAdminForm(VersionedModelForm):
    """The change form: refuses a post whose version is no longer the row's."""

    # Where the error's "Reload it" link points: the change page (set by the admin).
    reload_url = ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        instance = self.instance
        posted = cleaned.get(VERSION_FIELD)
        if instance._state.adding or posted is None:
            return cleaned
        current = (
            type(instance)
            ._base_manager.filter(pk=instance.pk)
            .values_list(VERSION_FIELD, flat=True)
            .first()
        )
        if current != posted:
            raise forms.ValidationError(
                stale_message(instance._meta, self.reload_url),
                code="stale",
            )
        return cleaned


class VersionedAdminMixin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A ModelAdmin mixin for ``VersionedModel``: the change form carries the version.

    The version travels as a hidden field even when ``fields`` or ``fieldsets`` leave it
    out. A post made from a form opened before someone else's save gets an error on the
    form ("changed by someone else since you opened it", with a link to reload) and
    saves nothing; the user's input stays in the form.
    """

    form = VersionedAdminForm

    def get_fieldsets(
        self, request: HttpRequest, obj: Any = None
    ) -> list[tuple[Any, Any]]:
        fieldsets = list(super().get_fieldsets(request, obj))
        names = {
            name
            for _title, options in fieldsets
            for line in options.get("fields", ())
            for name in (line if isinstance(line, list | tuple) else (line,))
        }
        if VERSION_FIELD in names or not fieldsets:
            return fieldsets
        title, options = fieldsets[0]
        options = {**options, "fields": [*options.get("fields", ()), VERSION_FIELD]}
        return [(title, options), *fieldsets[1:]]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:  # type: ignore[type-arg]
        form: type[forms.ModelForm] = super().get_form(  # type: ignore[type-arg]
            request, obj, change=change, **kwargs
        )
        return type(form.__name__, (form,), {"reload_url": request.path})

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ConflictError:
            # Someone saved between this form's check and its save: nothing was written.
            self.message_user(
                request, stale_message(self.opts, request.path), messages.ERROR
            )
            return HttpResponseRedirect(request.path)
