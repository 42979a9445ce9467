"""Foreign keys and the indexes a lookup on their columns can use."""

from __future__ import annotations

from typing import Any

from django.db.models import Field, Model

from django_prodkit.checks.indexes import fixes
from django_prodkit.checks.indexes.catalog import ForeignKey
from django_prodkit.checks.indexes.declared import model_label
from django_prodkit.checks.indexes.definitions import IndexDef
from django_prodkit.checks.indexes.inspection import Inspection, live_indexes


def covering(
    inspection: Inspection, fk: ForeignKey, *, valid_only: bool = True
) -> list[IndexDef]:
    """The catalog indexes a lookup on the foreign key's columns can use."""
    return [
        index
        for index in live_indexes(inspection)
        if index.table == fk.table
        and (index.valid or not valid_only)
        and _leads_with(index, fk.columns)
    ]


def _leads_with(index: IndexDef, columns: tuple[str, ...]) -> bool:
    if index.method not in {"btree", "hash"} or len(index.keys) < len(columns):
        return False
    if index.method == "hash" and len(columns) != 1:
        return False
    lead = index.keys[: len(columns)]
    if any(k.expression is not None or k.collation for k in lead):
        return False
    if {k.column for k in lead} != set(columns):
        return False
    if index.predicate is None:
        return True
    # Only a predicate that keeps every row with a value is harmless to the lookup.
    return index.predicate == " and ".join(
        f"{c.lower()}isnotnull" for c in columns
    ).replace(" ", "")


def foreign_keys(inspection: Inspection) -> None:
    for fk in inspection.catalog.foreign_keys:
        if covering(inspection, fk):
            continue
        if covering(inspection, fk, valid_only=False):
            continue  # Its index is invalid: reported once, as invalid.
        if any(
            d.definition.table == fk.table and _leads_with(d.definition, fk.columns)
            for d in inspection.missing
        ):
            continue  # Declared but missing: reported once, as missing.
        model = inspection.models.get(fk.table)
        field = _field_of(model, fk.columns)
        sql, operation = fixes.add_index(
            inspection.connection, model, field, fk.table, fk.columns
        )
        columns = ", ".join(fk.columns)
        inspection.add(
            "fk_without_index",
            fk.table,
            columns=fk.columns,
            index=None,
            message=(
                f"Foreign key {fk.table}({columns}) to {fk.target} has no valid index "
                f"that leads with {'its columns' if len(fk.columns) > 1 else columns}: "
                f"deleting or updating a row of {fk.target} scans {fk.table}, and so "
                "do joins to it."
            ),
            hint=(
                f"Index it: remove db_index=False from {model_label(model)}.{field.name}, "
                "or add a Meta.indexes entry created concurrently."
                if model is not None and field is not None
                else "Create an index on the foreign key's columns."
            ),
            fix_sql=sql,
            fix_operation=operation,
        )


def _field_of(
    model: type[Model] | None, columns: tuple[str, ...]
) -> Field[Any, Any] | None:
    if model is None or len(columns) != 1:
        return None
    for field in model._meta.local_concrete_fields:
        if field.column == columns[0]:
            return field
    return None
