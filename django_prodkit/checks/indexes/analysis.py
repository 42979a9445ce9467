"""The structural checks: what the catalog has against what the models declare.

Every index is reported at most once, with the strongest reason: invalid, then
duplicate, then redundant, then undeclared (and, with statistics, unused).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable

from django_prodkit.checks.indexes import fixes
from django_prodkit.checks.indexes.coverage import foreign_keys
from django_prodkit.checks.indexes.declared import DeclaredIndex, model_label
from django_prodkit.checks.indexes.definitions import IndexDef
from django_prodkit.checks.indexes.inspection import (
    Inspection,
    live_indexes,
)
from django_prodkit.checks.indexes.redundancy import duplicates_and_redundant

__all__ = ["Inspection", "run_structural"]


def run_structural(inspection: Inspection) -> None:
    _match(inspection)
    _invalid(inspection)
    _missing(inspection)
    duplicates_and_redundant(inspection)
    _undeclared(inspection)
    foreign_keys(inspection)
    _not_valid(inspection)


def _match(inspection: Inspection) -> None:
    """Pair declared indexes with catalog ones by definition: exactly first, then by
    the columns they mention when an expression or a predicate is spelt otherwise."""
    by_table: dict[str, list[IndexDef]] = defaultdict(list)
    for index in live_indexes(inspection):
        by_table[index.table].append(index)
    declared_by_table: dict[str, list[DeclaredIndex]] = defaultdict(list)
    for declared in inspection.declared:
        declared_by_table[declared.definition.table].append(declared)
    for table, declared_list in declared_by_table.items():
        if table not in inspection.catalog.tables:
            model = inspection.models.get(table)
            inspection.skipped.append(
                f"table {table} ({model_label(model) if model else '?'}) is not in "
                "the database: are its migrations applied?"
            )
            continue
        model = inspection.models[table]
        columns = frozenset(
            f.column.lower() for f in model._meta.local_concrete_fields if f.column
        )
        left = list(by_table.get(table, []))
        passes: list[Callable[[IndexDef], object]] = [
            IndexDef.signature,
            functools.partial(IndexDef.loose_signature, columns=columns),
        ]
        for key in passes:
            unmatched = []
            for declared in declared_list:
                found = _take(left, declared, key)
                if found is None:
                    unmatched.append(declared)
                else:
                    inspection.matched[(table, found.name or "")] = declared
            declared_list = unmatched
        inspection.missing.extend(declared_list)


def _take(
    left: list[IndexDef],
    declared: DeclaredIndex,
    key: Callable[[IndexDef], object],
) -> IndexDef | None:
    wanted = key(declared.definition)
    candidates = [index for index in left if key(index) == wanted]
    if not candidates:
        return None
    # Several identical indexes: the one with the declared name is the declared one.
    candidates.sort(key=lambda i: (i.name != declared.definition.name, i.name or ""))
    found = candidates[0]
    left.remove(found)
    return found


def _invalid(inspection: Inspection) -> None:
    for index in live_indexes(inspection):
        if index.valid or index.name is None:
            continue
        if index.name in inspection.catalog.building:
            inspection.skipped.append(
                f"index {index.name} on {index.table} is being built right now"
            )
            inspection.reported.add((index.table, index.name))
            continue
        name = fixes.quote(inspection.connection, index.name)
        inspection.add(
            "invalid",
            index.table,
            columns=index.columns,
            index=index.name,
            message=(
                f"Index {index.name} on {index.table} {index.describe()} is invalid: "
                "a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY failed, so "
                "PostgreSQL updates it on every write but never uses it"
                + (" and does not enforce its uniqueness." if index.unique else ".")
            ),
            hint=(
                "Rebuild it (a unique index fails again until the duplicate rows are "
                "removed), or drop it and create it again."
            ),
            fix_sql=f"REINDEX INDEX CONCURRENTLY {name};",
            fix_operation=(
                f"RunSQL({f'REINDEX INDEX CONCURRENTLY {name};'!r}) in a migration "
                "with atomic = False."
            ),
        )


def _missing(inspection: Inspection) -> None:
    for declared in inspection.missing:
        definition = declared.definition
        sql = fixes.create_missing(inspection.connection, declared)
        inspection.add(
            "missing",
            definition.table,
            columns=definition.columns,
            index=definition.name,
            message=(
                f"{model_label(declared.model)} declares an index {definition.describe()}"
                f" on {definition.table} ({declared.describe_source()}), but "
                f"database '{inspection.alias}' has no such index."
            ),
            hint=(
                "Apply the migrations that create it (manage.py migrate); if they are "
                "applied, it was dropped by hand: create it again with the SQL."
            ),
            fix_sql=sql,
            fix_operation=f"RunSQL({sql!r}) in a migration with atomic = False.",
        )


def _undeclared(inspection: Inspection) -> None:
    for index in live_indexes(inspection):
        key = (index.table, index.name or "")
        if (
            index.name is None
            or key in inspection.reported
            or key in inspection.matched
        ):
            continue
        inspection.add(
            "undeclared",
            index.table,
            columns=index.columns,
            index=index.name,
            message=(
                f"Index {index.name} on {index.table} {index.describe()} is in the "
                "database, but no model declares it."
            ),
            hint=(
                "Declare it in the model's Meta.indexes (or Meta.constraints), with a "
                "migration that only changes the state (SeparateDatabaseAndState), or "
                "drop it."
            ),
            fix_sql=fixes.drop(inspection.connection, index),
            fix_operation=_declare_operation(inspection, index),
        )


def _declare_operation(inspection: Inspection, index: IndexDef) -> str | None:
    model = inspection.models.get(index.table)
    if model is None or not index.columns or len(index.columns) != len(index.keys):
        return None
    by_column = {f.column: f.name for f in model._meta.local_concrete_fields}
    names = [
        ("-" if key.descending else "")
        + by_column.get(key.column or "", key.column or "")
        for key in index.keys
    ]
    kind = "UniqueConstraint" if index.unique else "Index"
    where = "constraints" if index.unique else "indexes"
    return (
        f"Add models.{kind}(fields={names!r}, name={index.name!r}"
        + (", condition=Q(...)" if index.predicate else "")
        + (f", include={list(index.include)!r}" if index.include else "")
        + f") to {model_label(model)}.Meta.{where}; migrate with "
        "SeparateDatabaseAndState(state_operations=[...]) since the index exists."
    )


def _not_valid(inspection: Inspection) -> None:
    for constraint in inspection.catalog.not_valid:
        table = fixes.quote(inspection.connection, constraint.table)
        name = fixes.quote(inspection.connection, constraint.name)
        sql = f"ALTER TABLE {table} VALIDATE CONSTRAINT {name};"
        inspection.add(
            "not_valid",
            constraint.table,
            index=constraint.name,
            message=(
                f"The {constraint.type} constraint {constraint.name} on "
                f"{constraint.table} is NOT VALID: rows written before it was added "
                "were never checked."
            ),
            hint=(
                "Validate it; VALIDATE CONSTRAINT reads the table without blocking "
                "writes."
            ),
            fix_sql=sql,
            fix_operation=f"RunSQL({sql!r}) in a migration.",
        )
