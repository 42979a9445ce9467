from __future__ import annotations

import gc
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.test.utils import isolate_apps

from django_prodkit.locking import VersionedModel, VersionedModelForm
from django_prodkit.locking.admin import VersionedAdminMixin
from django_prodkit.locking.checks import _admins, _forms, _model, check_locking
from tests.locking.models import Folder, Note


def _ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def test_the_test_project_passes() -> None:
    assert check_locking(None) == []


@isolate_apps("tests.locking")
def test_multi_table_inheritance_is_an_error() -> None:
    class Parent(models.Model):  # noqa: DJ008
        name = models.CharField(max_length=10)

    class Child(Parent, VersionedModel):  # noqa: DJ008
        pass

    assert "prodkit.E050" in _ids(_model(Child))


@isolate_apps("tests.locking")
def test_a_manager_that_does_not_bump_versions_is_a_warning() -> None:
    class Plain(VersionedModel):
        objects = models.Manager()  # type: ignore[assignment]

    assert _ids(_model(Plain)) == ["prodkit.W051"]


def test_a_model_form_without_the_version_is_a_warning() -> None:
    class Careless(forms.ModelForm):  # type: ignore[type-arg]
        class Meta:
            model = Note
            fields = ["text"]

    class Careful(forms.ModelForm):  # type: ignore[type-arg]
        class Meta:
            model = Note
            fields = ["text", "version"]

    class Carried(VersionedModelForm):
        class Meta:
            model = Note
            fields = ["text"]

    class Unrelated(forms.ModelForm):  # type: ignore[type-arg]
        class Meta:
            model = Folder
            fields = ["name"]

    try:
        found = [(m.id, m.obj) for m in _forms({Note})]
        assert found == [("prodkit.W052", Careless)]
    finally:
        # Forms are found as live ModelForm subclasses: let these ones go.
        del Careless, Careful, Carried, Unrelated, found
        gc.collect()


def test_an_admin_without_the_mixin_is_a_warning() -> None:
    site = admin.AdminSite(name="other")

    class Bare(admin.ModelAdmin):  # type: ignore[type-arg]
        pass

    class WrongForm(VersionedAdminMixin):
        form = forms.ModelForm  # type: ignore[assignment]

    try:
        site.register(Note, Bare)
        [bare] = _admins({Note})
        assert (bare.id, bare.obj) == ("prodkit.W053", Bare)
        site.unregister(Note)
        site.register(Note, WrongForm)
        [wrong] = _admins({Note})
        assert "not a VersionedAdminForm" in wrong.msg
    finally:
        del site
        gc.collect()


def test_nothing_answering_conflicts_is_a_warning(settings: Any) -> None:
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if "ConflictMiddleware" not in m
    ]
    assert "prodkit.W054" not in _ids(check_locking(None))  # DRF's handler answers.
    settings.REST_FRAMEWORK = {}
    assert "prodkit.W054" in _ids(check_locking(None))
