"""What index inspection reports: findings with an id, a level and a suggested fix."""

from __future__ import annotations

import dataclasses
from typing import Literal

from django.core.checks import CheckMessage, Error, Info, Warning
from django.db.models import Model

Level = Literal["error", "warning", "info"]

LEVELS: dict[Level, int] = {"info": 1, "warning": 2, "error": 3}

# kind -> (check id, level). Ids 110 to 129; docs/checks.md has a heading for each.
IDS: dict[str, tuple[str, Level]] = {
    "fk_without_index": ("prodkit.W110", "warning"),
    "missing": ("prodkit.E111", "error"),
    "undeclared": ("prodkit.W112", "warning"),
    "duplicate": ("prodkit.W113", "warning"),
    "redundant": ("prodkit.W114", "warning"),
    "fk_redundant": ("prodkit.W115", "warning"),
    "invalid": ("prodkit.E116", "error"),
    "unused": ("prodkit.I117", "info"),
    "seq_scans": ("prodkit.I118", "info"),
    "sequence": ("prodkit.W119", "warning"),
    "not_valid": ("prodkit.W120", "warning"),
    "xid_age": ("prodkit.W121", "warning"),
    "long_session": ("prodkit.W122", "warning"),
    "lock_timeout": ("prodkit.W123", "warning"),
}
STRUCTURAL_KINDS = frozenset(
    {
        "fk_without_index",
        "missing",
        "undeclared",
        "duplicate",
        "redundant",
        "fk_redundant",
        "invalid",
        "not_valid",
    }
)
_MESSAGES: dict[Level, type[Error] | type[Warning] | type[Info]] = {
    "error": Error,
    "warning": Warning,
    "info": Info,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing index inspection found, with where it is and how to fix it.

    Attributes:
        id: The stable check id, such as ``"prodkit.W110"``.
        kind: A short slug, such as ``"fk_without_index"`` (see ``IDS``).
        level: ``"error"``, ``"warning"`` or ``"info"``. Findings on models of
            installed packages are at most ``"info"``, whatever the id's letter.
        database: The database alias.
        table: The table, or ``None`` for a finding about the whole database.
        columns: The columns concerned, in key order.
        index: The index (or constraint, or sequence) concerned, if any.
        model: ``"app_label.ModelName"`` of the table's model, if any.
        model_file: The source file of that model.
        message: What is wrong.
        hint: What to do about it.
        fix_sql: A statement that fixes it, to run outside a transaction.
        fix_operation: The model change or migration operation that fixes it.
    """

    id: str
    kind: str
    level: Level
    database: str
    table: str | None
    columns: tuple[str, ...] = ()
    index: str | None = None
    model: str | None = None
    model_file: str | None = None
    message: str
    hint: str
    fix_sql: str | None = None
    fix_operation: str | None = None
    model_class: type[Model] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    def as_dict(self) -> dict[str, object]:
        """One entry of the ``findings`` list of ``prodkit_indexes --format json``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "level": self.level,
            "database": self.database,
            "table": self.table,
            "columns": list(self.columns),
            "index": self.index,
            "model": self.model,
            "model_file": self.model_file,
            "message": self.message,
            "hint": self.hint,
            "fix": {"sql": self.fix_sql, "operation": self.fix_operation},
        }

    def check_message(self) -> CheckMessage:
        """The same finding as a ``django.core.checks`` message, for the deploy gate."""
        obj: object = self.model_class if self.model_class is not None else self.table
        return _MESSAGES[self.level](self.message, hint=self.hint, obj=obj, id=self.id)

    def at_least(self, level: Level) -> bool:
        return LEVELS[self.level] >= LEVELS[level]


@dataclasses.dataclass(slots=True, kw_only=True)
class Report:
    """The result of :func:`inspect` for one database.

    Attributes:
        database: The alias inspected.
        vendor: ``connection.vendor``, such as ``"postgresql"``.
        findings: Ordered by level (errors first), then table.
        skipped: What was not checked, and why, one sentence each.
        queries: How many queries the inspection made, all of them counted.
    """

    database: str
    vendor: str
    findings: list[Finding] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    queries: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "vendor": self.vendor,
            "queries": self.queries,
            "findings": [finding.as_dict() for finding in self.findings],
            "skipped": list(self.skipped),
        }
