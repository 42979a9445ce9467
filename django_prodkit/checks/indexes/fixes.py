"""Suggested fixes: the SQL to run outside a transaction, and the model change or the
migration operation that does the same through Django."""

from __future__ import annotations

import re
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Index, Model

from django_prodkit.checks.indexes.declared import DeclaredIndex, model_label
from django_prodkit.checks.indexes.definitions import IndexDef

_CREATE = re.compile(r"^CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)")
_ADD_UNIQUE = re.compile(
    r"^ALTER TABLE (?P<table>\S+) ADD CONSTRAINT (?P<name>\S+) UNIQUE"
    r"(?P<nulls> NULLS NOT DISTINCT| NULLS DISTINCT)? \((?P<columns>.*)\)"
    r"(?P<deferrable>.*)$"
)


AUTO_CREATED = (
    "Django creates this index on auto-created many-to-many tables (ticket #22125); "
    "to avoid it, use an explicit through model with db_index=False on that field."
)


def quote(connection: BaseDatabaseWrapper, name: str) -> str:
    return connection.ops.quote_name(name)


def concurrently(connection: BaseDatabaseWrapper, sql: str) -> str:
    """``sql`` with ``CONCURRENTLY`` on PostgreSQL, where it avoids locking writes."""
    sql = sql.rstrip(";")
    if connection.vendor == "postgresql":
        sql = _CREATE.sub(lambda m: f"CREATE {m[1] or ''}INDEX CONCURRENTLY ", sql)
    return sql + ";"


def create_missing(connection: BaseDatabaseWrapper, declared: DeclaredIndex) -> str:
    """The statement that recreates a declared index the database lacks."""
    definition = declared.definition
    table = quote(connection, definition.table)
    columns = ", ".join(quote(connection, c) for c in definition.columns)
    if declared.source == "pk":
        return f"ALTER TABLE {table} ADD PRIMARY KEY ({columns});"
    if declared.source == "unique":
        name = quote(connection, f"{definition.table}_{definition.columns[0]}_key")
        statement = f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({columns})"
        if connection.vendor != "postgresql":
            statement = f"CREATE UNIQUE INDEX {name} ON {table} ({columns})"
    else:
        statement = declared.statement or ""
    match = _ADD_UNIQUE.match(statement)
    if match and connection.vendor == "postgresql":
        # Build the index without blocking writes, then attach the constraint to it.
        name = match["name"]
        nulls = match["nulls"] or ""
        return (
            f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {match['table']} "
            f"({match['columns']}){nulls}; ALTER TABLE {match['table']} "
            f"ADD CONSTRAINT {name} UNIQUE USING INDEX {name}{match['deferrable']};"
        )
    return concurrently(connection, statement)


def drop(connection: BaseDatabaseWrapper, index: IndexDef) -> str:
    table = quote(connection, index.table)
    name = quote(connection, index.name or "")
    if index.constraint in {"p", "u"} and connection.vendor == "postgresql":
        return f"ALTER TABLE {table} DROP CONSTRAINT {name};"
    if connection.vendor == "postgresql":
        return f"DROP INDEX CONCURRENTLY IF EXISTS {name};"
    return f"DROP INDEX IF EXISTS {name};"


def removal(
    connection: BaseDatabaseWrapper, declared: DeclaredIndex | None, drop_sql: str
) -> str | None:
    """The model change that stops declaring an index, and its migration."""
    if declared is None:
        return None
    model = declared.model
    name = model._meta.model_name
    label = model_label(model)
    field = declared.field.name if declared.field is not None else ""
    if model._meta.auto_created:
        return AUTO_CREATED
    if declared.source == "index":
        operation = f'("{name}", "{declared.definition.name}")'
        if connection.vendor != "postgresql":
            return (
                f"Remove the Index {declared.definition.name!r} from "
                f"{label}.Meta.indexes; migrate with RemoveIndex{operation}."
            )
        return (
            f"Remove the Index {declared.definition.name!r} from {label}.Meta.indexes; "
            f"migrate with RemoveIndexConcurrently{operation} in a migration with "
            "atomic = False."
        )
    if declared.source in {"field", "like"}:
        return (
            f"Set db_index=False on {label}.{field}; in the migration, wrap the "
            f"AlterField in SeparateDatabaseAndState(state_operations=[AlterField(...)], "
            f"database_operations=[RunSQL({drop_sql!r})]) with atomic = False."
        )
    if declared.source == "constraint":
        return (
            f"Remove the UniqueConstraint {declared.definition.name!r} from "
            f'{label}.Meta.constraints (RemoveConstraint("{name}", '
            f'"{declared.definition.name}")).'
        )
    if declared.source == "together":
        return f"Remove {list(declared.definition.columns)} from {label}.Meta.unique_together."
    if declared.source == "unique":
        return f"Set unique=False on {label}.{field}."
    return None


def add_index(
    connection: BaseDatabaseWrapper,
    model: type[Model] | None,
    field: Field[Any, Any] | None,
    table: str,
    columns: tuple[str, ...],
) -> tuple[str, str | None]:
    """SQL and operation that index ``columns``, as a ``Meta.indexes`` entry when the
    model is known."""
    if model is None or field is None:
        name = f"{table}_{'_'.join(columns)}_idx"[:63]
        cols = ", ".join(quote(connection, c) for c in columns)
        sql = f"CREATE INDEX {quote(connection, name)} ON {quote(connection, table)} ({cols})"
        return concurrently(connection, sql), None
    index = Index(fields=[field.name])
    index.set_name_with_model(model)
    editor = connection.schema_editor(atomic=False)
    sql = concurrently(connection, str(index.create_sql(model, editor)))
    operation = (
        "AddIndexConcurrently" if connection.vendor == "postgresql" else "AddIndex"
    )
    return sql, (
        f"Add models.Index(fields=[{field.name!r}], name={index.name!r}) to "
        f"{model_label(model)}.Meta.indexes; migrate with {operation}"
        f'("{model._meta.model_name}", models.Index(fields=[{field.name!r}], '
        f"name={index.name!r}))"
        + (" in a migration with atomic = False." if operation != "AddIndex" else ".")
    )
