"""ModelForms that carry the version of the row they edit."""

from __future__ import annotations

from typing import Any

from django import forms

from django_prodkit.locking.models import VERSION_FIELD

__all__ = ["VersionedModelForm"]


class VersionedModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """A ModelForm for a ``VersionedModel`` that always carries the version.

    Whatever ``Meta.fields`` lists, the form renders the edited row's version as a hidden
    field and requires it back; the save then checks it, so a form opened before
    someone else's save is refused (``ConflictError``) instead of overwriting it.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        editing = not self.instance._state.adding
        self.fields[VERSION_FIELD].required = editing
        if editing:
            self.initial.setdefault(
                VERSION_FIELD, getattr(self.instance, VERSION_FIELD)
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        version = cleaned.get(VERSION_FIELD)
        if version is not None and not self.instance._state.adding:
            # The version the form was rendered with, not the one just loaded.
            setattr(self.instance, VERSION_FIELD, version)
        return cleaned
