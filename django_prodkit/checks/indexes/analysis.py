"""The structural checks: what the catalog has against what the models declare.

Every index is reported at most once, with the strongest reason: invalid, then
duplicate, then redundant, then undeclared (and, with statistics, unused).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from django_prodkit.checks.indexes import fixes
from django_prodkit.checks.indexes.catalog import Catalog, ForeignKey
from django_prodkit.checks.indexes.declared import (
    DeclaredIndex,
    is_project_model,
    model_file,
    model_label,
)
from django_prodkit.checks.indexes.definitions import IndexDef
from django_prodkit.checks.indexes.findings import IDS, Finding

# Kinds whose fix on an auto-created many-to-many table needs an explicit through
# model: Django creates that redundancy itself (ticket #22125).
_REDUNDANCY = frozenset({"duplicate", "redundant", "fk_redundant"})
# Which copy of a duplicate to keep: the lowest rank.
_KEEP_RANK = {"pk": 0, "unique": 1, "constraint": 1, "together": 1, "index": 2}


@dataclasses.dataclass(slots=True)
class Inspection:
    """The state shared by the checks of one database."""

    connection: BaseDatabaseWrapper
    models: dict[str, type[Model]]  # table -> model
    declared: list[DeclaredIndex]
    catalog: Catalog
    findings: list[Finding] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    matched: dict[tuple[str, str], DeclaredIndex] = dataclasses.field(
        default_factory=dict
    )
    missing: list[DeclaredIndex] = dataclasses.field(default_factory=list)
    reported: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    @property
    def alias(self) -> str:
        return str(self.connection.alias)

    def add(
        self,
        kind: str,
        table: str | None,
        *,
        message: str,
        hint: str,
        columns: Iterable[str] = (),
        index: str | None = None,
        fix_sql: str | None = None,
        fix_operation: str | None = None,
    ) -> None:
        check_id, level = IDS[kind]
        model = self.models.get(table) if table else None
        if model is not None and (
            not is_project_model(model)
            or (model._meta.auto_created and kind in _REDUNDANCY)
        ):
            level = "info"
        if table is not None and index is not None:
            self.reported.add((table, index))
        self.findings.append(
            Finding(
                id=check_id,
                kind=kind,
                level=level,
                database=self.alias,
                table=table,
                columns=tuple(columns),
                index=index,
                model=model_label(model) if model is not None else None,
                model_file=model_file(model) if model is not None else None,
                message=message,
                hint=hint,
                fix_sql=fix_sql,
                fix_operation=fix_operation,
                model_class=model,
            )
        )


def run_structural(inspection: Inspection) -> None:
    _match(inspection)
    _invalid(inspection)
    _missing(inspection)
    _duplicates_and_redundant(inspection)
    _undeclared(inspection)
    _foreign_keys(inspection)
    _not_valid(inspection)


def live_indexes(inspection: Inspection) -> list[IndexDef]:
    """Indexes that take part in the analysis: exclusion constraints are left out."""
    return [i for i in inspection.catalog.indexes if i.constraint != "x"]


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


def _declared_of(inspection: Inspection, index: IndexDef) -> DeclaredIndex | None:
    return inspection.matched.get((index.table, index.name or ""))


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


def _duplicates_and_redundant(inspection: Inspection) -> None:
    by_table: dict[str, list[IndexDef]] = defaultdict(list)
    for index in live_indexes(inspection):
        if index.valid and (index.table, index.name or "") not in inspection.reported:
            by_table[index.table].append(index)
    for indexes in by_table.values():
        groups: dict[tuple[object, ...], list[IndexDef]] = defaultdict(list)
        for index in indexes:
            groups[index.signature()].append(index)
        survivors: list[IndexDef] = []
        for group in groups.values():
            group.sort(key=lambda i: _keep_rank(inspection, i))
            survivors.append(group[0])
            for extra in group[1:]:
                _report_drop(inspection, "duplicate", extra, group[0])
        for index in survivors:
            if index.unique or index.primary or index.constraint:
                continue
            covers = [
                other
                for other in survivors
                if other is not index and _covers(other, index)
            ]
            # Point at a cover that is not itself redundant.
            maximal = [
                c
                for c in covers
                if not any(o is not c and _covers(o, c) for o in survivors)
            ]
            if maximal:
                maximal.sort(key=lambda c: (not c.unique, -len(c.keys), c.name or ""))
                declared = _declared_of(inspection, index)
                kind = (
                    "fk_redundant"
                    if declared is not None
                    and declared.source == "field"
                    and declared.field is not None
                    and declared.field.is_relation
                    else "redundant"
                )
                _report_drop(inspection, kind, index, maximal[0])


def _keep_rank(inspection: Inspection, index: IndexDef) -> tuple[int, str]:
    declared = _declared_of(inspection, index)
    rank = 4 if declared is None else _KEEP_RANK.get(declared.source, 3)
    if index.primary:
        rank = -1
    elif index.constraint:
        rank = min(rank, 0)
    return rank, index.name or ""


def _covers(big: IndexDef, small: IndexDef) -> bool:
    """Whether ``big`` serves every lookup ``small`` serves: ``small``'s key columns
    lead ``big``'s, with the same options, and ``big`` carries ``small``'s INCLUDE
    columns (as keys or as INCLUDE)."""
    if big.method != small.method or big.method not in {"btree"}:
        return False
    if big.predicate != small.predicate or len(small.keys) > len(big.keys):
        return False
    if big.keys[: len(small.keys)] != small.keys:
        return False
    carried = {k.column for k in big.keys if k.column} | set(big.include)
    if not set(small.include) <= carried:
        return False
    # Equal keys: only a unique index, or more INCLUDE columns, makes ``big`` the cover.
    if len(small.keys) == len(big.keys):
        return big.unique or set(small.include) < set(big.include)
    return True


def _report_drop(
    inspection: Inspection, kind: str, index: IndexDef, keep: IndexDef
) -> None:
    declared = _declared_of(inspection, index)
    sql = fixes.drop(inspection.connection, index)
    field = declared.field if declared is not None else None
    if kind == "duplicate":
        message = (
            f"Index {index.name} on {index.table} {index.describe()} duplicates "
            f"{keep.name or 'the primary key'}."
        )
    elif kind == "fk_redundant":
        assert field is not None
        message = (
            f"Index {index.name} of foreign key {field.name!r} on {index.table} is "
            f"redundant: {keep.name} {keep.describe()} leads with the same column."
        )
    else:
        message = (
            f"Index {index.name} on {index.table} {index.describe()} is redundant: "
            f"{keep.name} {keep.describe()} leads with the same key columns."
        )
    if declared is None:
        message += " No model declares it."
    inspection.add(
        kind,
        index.table,
        columns=index.columns,
        index=index.name,
        message=message,
        hint=(
            f"Set db_index=False on the field {field.name!r}."
            if kind == "fk_redundant"
            and field is not None
            and not field.model._meta.auto_created
            else "Drop it: it costs writes and space and serves no query the other "
            "index does not."
        ),
        fix_sql=sql,
        fix_operation=fixes.removal(inspection.connection, declared, sql),
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


def _foreign_keys(inspection: Inspection) -> None:
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
