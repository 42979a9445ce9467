"""Duplicate and redundant indexes, among the valid indexes of each table."""

from __future__ import annotations

from collections import defaultdict

from django_prodkit.checks.indexes import fixes
from django_prodkit.checks.indexes.definitions import IndexDef
from django_prodkit.checks.indexes.inspection import (
    Inspection,
    declared_of,
    live_indexes,
)

# Which copy of a duplicate to keep: the lowest rank.
_KEEP_RANK = {"pk": 0, "unique": 1, "constraint": 1, "together": 1, "index": 2}


def duplicates_and_redundant(inspection: Inspection) -> None:
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
                declared = declared_of(inspection, index)
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
    declared = declared_of(inspection, index)
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
    declared = declared_of(inspection, index)
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
