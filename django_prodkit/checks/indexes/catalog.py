"""What the catalog says about the inspected tables, the same shape for every database."""

from __future__ import annotations

import dataclasses
import datetime

from django_prodkit.checks.indexes.definitions import IndexDef


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ForeignKey:
    table: str
    name: str | None
    columns: tuple[str, ...]
    target: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    """A constraint added ``NOT VALID`` and never validated."""

    table: str
    name: str
    type: str  # "foreign key" or "check"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TableStats:
    table: str
    seq_scans: int
    seq_rows: int
    index_scans: int
    live_rows: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SequenceUse:
    table: str
    column: str
    sequence: str
    type: str
    last_value: int
    max_value: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    pid: int
    user: str
    application: str
    state: str
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseState:
    """Database-wide facts, read once."""

    name: str
    lock_timeout: str
    xid_age: int
    stats_since: datetime.datetime | None  # The last reset, or the server's start.
    stats_reset: bool  # Whether ``stats_since`` is a reset (not a start).
    now: datetime.datetime


@dataclasses.dataclass(slots=True, kw_only=True)
class Catalog:
    tables: set[str] = dataclasses.field(default_factory=set)
    indexes: list[IndexDef] = dataclasses.field(default_factory=list)
    foreign_keys: list[ForeignKey] = dataclasses.field(default_factory=list)
    not_valid: list[Constraint] = dataclasses.field(default_factory=list)
    table_stats: list[TableStats] = dataclasses.field(default_factory=list)
    sequences: list[SequenceUse] = dataclasses.field(default_factory=list)
    sessions: list[Session] = dataclasses.field(default_factory=list)
    state: DatabaseState | None = None
    building: set[str] = dataclasses.field(default_factory=set)  # Being created now.
