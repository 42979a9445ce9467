"""The conditional UPDATE of a versioned save, as SQL built once and reused.

``QuerySet.update()`` builds a query object, resolves its lookups and compiles it on every
save: about half of a save's Python time. A versioned save always has the same shape,
``UPDATE table SET ... , version = %s WHERE pk = %s AND version = %s``, so its SQL is
built once per table, column set and database, and run through the public cursor API
with each field's own ``get_db_prep_save()``. Whatever that plain statement cannot
express (a value that is an expression or a model instance, a field that renders its
own placeholder, a composite primary key) goes through ``QuerySet.update()`` instead,
so the two routes write the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.db import connections, transaction
from django.db.models import Field
from django.db.models.options import Options

__all__ = ["update_row"]


def update_row(
    meta: Options[Any],
    using: str,
    fields: Sequence[Field[Any, Any]],
    values: Sequence[object],
    pk: object,
    version: Field[Any, Any],
    expected: int,
) -> int | None:
    """Run the versioned UPDATE and return its row count.

    ``None`` when the statement needs the ORM: the caller then runs
    ``QuerySet.update()`` with the same values.
    """
    if len(meta.pk_fields) != 1 or not _plain(fields, values):
        return None
    connection = connections[using]
    params = [
        field.get_db_prep_save(value, connection=connection)
        for field, value in zip(fields, values, strict=True)
    ]
    if any(hasattr(param, "as_sql") for param in params):
        return None
    params += [
        version.get_db_prep_save(expected + 1, connection=connection),
        meta.pk.get_db_prep_value(pk, connection),
        version.get_db_prep_value(expected, connection),
    ]
    sql = _statement(
        using,
        meta.db_table,
        meta.pk.column,
        version.column,
        tuple(f.column for f in fields),
    )
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _plain(fields: Sequence[Field[Any, Any]], values: Sequence[object]) -> bool:
    return not any(
        hasattr(field, "get_placeholder") or hasattr(field, "get_placeholder_sql")
        for field in fields
    ) and not any(
        hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save")
        for value in values
    )


@lru_cache(maxsize=1024)
def _statement(
    using: str, table: str, pk: str, version: str, columns: tuple[str, ...]
) -> str:
    quote = connections[using].ops.quote_name
    assignments = [f"{quote(column)} = %s" for column in (*columns, version)]
    return (
        f"UPDATE {quote(table)} SET {', '.join(assignments)} "
        f"WHERE {quote(pk)} = %s AND {quote(version)} = %s"
    )
