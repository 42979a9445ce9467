"""Model classes built at import, in numbered order, with the shapes real schemas have.

Model ``i`` (0-based, over all apps) lives in app ``APPS[i % len(APPS)]`` and is called
``Thing{i:03d}``; its foreign keys point at models with a lower number, so that rows can be
seeded in number order. Which features a model has depends on its number alone, so a
schema of 300 models holds the 100-model schema as its first 100 models:

- ``name`` with ``db_index=True``, ``status``, ``amount``, ``created``;
- every 2nd model: ``code``, a ``CharField(unique=True)`` (PostgreSQL adds a ``_like``
  index beside the unique one);
- every model but the first: ``parent``, a foreign key to the model before it; every 5th
  one with ``db_index=False`` (a missing FK index, unless a ``Meta.indexes`` entry leads
  with it: every 10th does);
- every 3rd: ``owner``, a second foreign key, to model ``i // 2``;
- every 4th: a two-column index on ``(status, created)`` and a ``UniqueConstraint`` on
  ``(parent, name)``, which makes Django's own index on ``parent`` redundant;
- every 6th: a partial index on ``amount`` (``condition=Q(status="open")``);
- every 7th: a partial ``UniqueConstraint`` on ``name``;
- every 9th: an expression index on ``Lower("name")``;
- every 3rd: a ``CheckConstraint`` (``amount >= 0``);
- every 15th: a ``ManyToManyField`` to model ``i // 3``.
"""

from __future__ import annotations

import os
from typing import Any

from django.db import models
from django.db.models.functions import Lower

# The generated apps, in the order models are dealt to them.
APPS = ("catalog", "orders", "people", "billing")
MODELS_VARIABLE = "PRODKIT_BENCH_GATE_MODELS"
DEFAULT_MODELS = 300


def model_count() -> int:
    """How many models the project has, from ``PRODKIT_BENCH_GATE_MODELS`` (300)."""
    return int(os.environ.get(MODELS_VARIABLE, DEFAULT_MODELS))


def app_of(number: int) -> str:
    return APPS[number % len(APPS)]


def model_name(number: int) -> str:
    return f"Thing{number:03d}"


def reference(number: int) -> str:
    """The lazy ``app_label.ModelName`` reference to model ``number``."""
    return f"{app_of(number)}.{model_name(number)}"


def _fields(number: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": models.CharField(max_length=100, db_index=True),
        "status": models.CharField(max_length=16, default="new"),
        "amount": models.IntegerField(default=0),
        "created": models.DateTimeField(db_index=number % 3 == 0),
    }
    if number % 2 == 0:
        fields["code"] = models.CharField(max_length=32, unique=True)
    if number > 0:
        fields["parent"] = models.ForeignKey(
            reference(number - 1),
            on_delete=models.CASCADE,
            related_name="+",
            db_index=number % 5 != 0,
        )
    if number > 0 and number % 3 == 0:
        fields["owner"] = models.ForeignKey(
            reference(number // 2),
            on_delete=models.SET_NULL,
            null=True,
            related_name="+",
        )
    if number > 0 and number % 15 == 0:
        fields["tags"] = models.ManyToManyField(
            reference(number // 3), related_name="+"
        )
    return fields


def _meta(number: int, app_label: str) -> type:
    indexes: list[models.Index] = []
    constraints: list[models.BaseConstraint] = []
    name = model_name(number).lower()
    if number % 4 == 0:
        indexes.append(models.Index(fields=["status", "created"], name=f"{name}_sc"))
        if number > 0:
            constraints.append(
                models.UniqueConstraint(fields=["parent", "name"], name=f"{name}_pn")
            )
    if number > 0 and number % 10 == 0:
        indexes.append(models.Index(fields=["parent", "amount"], name=f"{name}_pa"))
    if number % 6 == 0:
        indexes.append(
            models.Index(
                fields=["amount"],
                condition=models.Q(status="open"),
                name=f"{name}_open",
            )
        )
    if number % 9 == 0:
        indexes.append(models.Index(Lower("name"), name=f"{name}_lower"))
    if number % 7 == 0:
        constraints.append(
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(status="active"),
                name=f"{name}_active",
            )
        )
    if number % 3 == 0:
        constraints.append(
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name=f"{name}_amount"
            )
        )
    return type(
        "Meta",
        (),
        {"app_label": app_label, "indexes": indexes, "constraints": constraints},
    )


def define(app_label: str, module: str) -> dict[str, type[models.Model]]:
    """Define this app's share of the models in ``module``; return them by class name."""
    defined: dict[str, type[models.Model]] = {}
    for number in range(model_count()):
        if app_of(number) != app_label:
            continue
        attributes: dict[str, Any] = {
            "__module__": module,
            "Meta": _meta(number, app_label),
            "__str__": lambda self: str(self.name),
            **_fields(number),
        }
        cls = type(model_name(number), (models.Model,), attributes)
        defined[model_name(number)] = cls
    return defined
