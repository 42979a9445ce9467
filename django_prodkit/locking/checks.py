"""System checks of optimistic locking: prodkit.E050 to prodkit.W054."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django import forms
from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import models

from django_prodkit.locking.models import (
    VERSION_FIELD,
    VersionedModel,
    VersionedQuerySet,
)

MIDDLEWARE_PATHS = {
    "django_prodkit.locking.ConflictMiddleware",
    "django_prodkit.locking.middleware.ConflictMiddleware",
}
DRF_HANDLER = "django_prodkit.locking.drf.exception_handler"
# Form classes made at run time by modelform_factory (the admin's among them).
_GENERATED_FORM_MODULES = {"django.forms.models", "django_prodkit.locking.admin"}


def check_locking(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    versioned = [
        model
        for model in apps.get_models()
        if issubclass(model, VersionedModel)
        and (app_configs is None or model._meta.app_config in app_configs)
    ]
    if not versioned:
        return []
    messages: list[CheckMessage] = []
    for model in versioned:
        messages += _model(model)
    messages += _forms(set(versioned))
    messages += _admins(set(versioned))
    messages += _answers()
    return messages


def _model(model: type[models.Model]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not model._meta.proxy and model._meta.parents:
        messages.append(
            Error(
                "A VersionedModel cannot have concrete parent models "
                "(multi-table inheritance): its parents' fields would be saved "
                "without a version check.",
                hint="Inherit from abstract models only, or put the version on the "
                "parent model.",
                obj=model,
                id="prodkit.E050",
            )
        )
    queryset = model._default_manager.get_queryset()
    if not isinstance(queryset, VersionedQuerySet):
        messages.append(
            Warning(
                f"The default manager of {model._meta.label} does not use "
                "VersionedQuerySet, so its update() leaves versions unchanged and a "
                "stale instance can overwrite a bulk update without a conflict.",
                hint="Build the manager with "
                "VersionedManager.from_queryset(YourQuerySet), or derive your "
                "QuerySet from django_prodkit.locking.VersionedQuerySet.",
                obj=model,
                id="prodkit.W051",
            )
        )
    return messages


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _forms(versioned: set[type[models.Model]]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for form in set(_subclasses(forms.ModelForm)):
        model = getattr(getattr(form, "_meta", None), "model", None)
        if (
            model in versioned
            and form.__module__ not in _GENERATED_FORM_MODULES
            and VERSION_FIELD not in form.base_fields
        ):
            messages.append(
                Warning(
                    f"{form.__module__}.{form.__qualname__} edits "
                    f"{model._meta.label} without its version field, so a form "
                    "opened before someone else's save overwrites that save.",
                    hint="Add 'version' to Meta.fields, or derive the form from "
                    "django_prodkit.locking.VersionedModelForm.",
                    obj=form,
                    id="prodkit.W052",
                )
            )
    return messages


def _admins(versioned: set[type[models.Model]]) -> list[CheckMessage]:
    if not apps.is_installed("django.contrib.admin"):
        return []
    from django.contrib.admin.sites import all_sites

    from django_prodkit.locking.admin import VersionedAdminForm, VersionedAdminMixin

    messages: list[CheckMessage] = []
    for site in all_sites:
        for model, model_admin in site._registry.items():
            if model not in versioned:
                continue
            if not isinstance(model_admin, VersionedAdminMixin):
                problem = "does not use VersionedAdminMixin"
            elif not issubclass(model_admin.form, VersionedAdminForm):
                problem = "sets a form that is not a VersionedAdminForm"
            else:
                continue
            messages.append(
                Warning(
                    f"The admin of {model._meta.label} on the site {site.name!r} "
                    f"{problem}, so a stale change form overwrites newer changes.",
                    hint="Derive the ModelAdmin from "
                    "django_prodkit.locking.admin.VersionedAdminMixin and its form "
                    "from VersionedAdminForm.",
                    obj=type(model_admin),
                    id="prodkit.W053",
                )
            )
    return messages


def _answers() -> list[CheckMessage]:
    if MIDDLEWARE_PATHS.intersection(settings.MIDDLEWARE):
        return []
    rest = getattr(settings, "REST_FRAMEWORK", {}) or {}
    if rest.get("EXCEPTION_HANDLER") == DRF_HANDLER:
        return []
    return [
        Warning(
            "There are versioned models but neither ConflictMiddleware nor the DRF "
            "handler answers ConflictError, so a stale write is a 500 error.",
            hint="Add 'django_prodkit.locking.ConflictMiddleware' to MIDDLEWARE, or "
            f"set REST_FRAMEWORK['EXCEPTION_HANDLER'] to {DRF_HANDLER!r}.",
            id="prodkit.W054",
        )
    ]
