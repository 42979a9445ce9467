"""The state shared by the checks of one database, and how a finding is added."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from django_prodkit.checks.indexes.catalog import Catalog
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
# Kinds whose fix, on a package's model, is still the package's own migrations.
_MISSING_KINDS = frozenset({"missing", "invalid", "fk_without_index"})
_PACKAGE_HINT = (
    "The model belongs to an installed package, whose code is not yours to change: "
    "leave it, or run the SQL knowing that the package's later migrations expect the "
    "schema its own migrations made."
)


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
        if model is not None and not is_project_model(model):
            level = "info"
            if kind not in _MISSING_KINDS:
                # The package's code is not the project's to change.
                hint = _PACKAGE_HINT
                fix_operation = None
        elif model is not None and model._meta.auto_created and kind in _REDUNDANCY:
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


def live_indexes(inspection: Inspection) -> list[IndexDef]:
    """Indexes that take part in the analysis: exclusion constraints are left out."""
    return [i for i in inspection.catalog.indexes if i.constraint != "x"]


def declared_of(inspection: Inspection, index: IndexDef) -> DeclaredIndex | None:
    return inspection.matched.get((index.table, index.name or ""))
