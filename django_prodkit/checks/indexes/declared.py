"""The indexes Django creates for a model, read from the schema editor's own statements.

Django's ``create_model`` makes the primary key, a unique constraint per ``unique``
field, the field indexes of ``_model_indexes_sql`` (``db_index``, every foreign key, and
on PostgreSQL the ``_like`` pattern index of text columns), ``Meta.indexes``,
``Meta.constraints`` and ``unique_together``. The same methods are called here, without
running their statements, so names, operator classes and database features match.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect as pyinspect
import os
import re
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.ddl_references import Columns, Expressions, Statement
from django.db.models import Field, Index, Model, UniqueConstraint

from django_prodkit.checks.indexes.definitions import IndexDef, Key, normalize_sql
from django_prodkit.project_code import is_project_file

_ORDER = re.compile(r"\s+(?:(ASC|DESC))?\s*(?:NULLS\s+(FIRST|LAST))?\s*$", re.I)
_IDENTIFIER = re.compile(r'^"?([A-Za-z_][A-Za-z0-9_$]*)"?$')
_COLLATE = re.compile(r'\s+COLLATE\s+"?([^"\s]+)"?$', re.I)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredIndex:
    """An index a model declares, and where the declaration is."""

    definition: IndexDef
    model: type[Model]
    source: str  # "pk", "unique", "field", "like", "index", "constraint", "together"
    field: Field[Any, Any] | None = None
    index: Index | None = None
    statement: str | None = None  # What Django would run, as SQL.

    def describe_source(self) -> str:
        name = self.field.name if self.field is not None else ""
        return {
            "pk": "its primary key",
            "unique": f"unique=True on {name!r}",
            "field": f"the index of field {name!r}",
            "like": f"the LIKE (pattern_ops) index of field {name!r}",
            "index": f"Meta.indexes {self.definition.name!r}",
            "constraint": f"Meta.constraints {self.definition.name!r}",
            "together": f"unique_together {self.definition.columns!r}",
        }[self.source]


def model_label(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def owner(model: type[Model]) -> type[Model]:
    """The model whose code declares ``model``: itself, or the model of an auto-created
    many-to-many table."""
    auto: object = model._meta.auto_created
    return auto if isinstance(auto, type) else model


def model_file(model: type[Model]) -> str | None:
    try:
        path = pyinspect.getsourcefile(owner(model))
    except (TypeError, OSError):
        return None
    if path is None:
        return None
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def is_project_model(model: type[Model]) -> bool:
    """Whether the project can change this model in its own code (not a package's)."""
    path = model_file(model)
    return path is not None and is_project_file(os.path.abspath(path))


def schema_editor(connection: BaseDatabaseWrapper) -> Any:
    """A schema editor that is never entered, so it runs nothing; typed loosely since
    the stubs lack the private helpers Django itself calls here."""
    editor: Any = connection.schema_editor(atomic=False)
    deterministic = getattr(editor, "_is_collation_deterministic", None)
    if deterministic is not None:
        # PostgreSQL asks the server about a field's collation for its _like index:
        # once per collation, not once per field.
        editor._is_collation_deterministic = functools.cache(deterministic)
    return editor


def declared_indexes(
    model: type[Model], connection: BaseDatabaseWrapper, editor: Any = None
) -> list[DeclaredIndex]:
    """Every index Django creates for ``model`` on ``connection``'s database."""
    if editor is None:
        editor = schema_editor(connection)
    meta = model._meta
    table = meta.db_table
    out: list[DeclaredIndex] = []
    pk_columns = _primary_key_columns(model)
    if pk_columns:
        keys = tuple(Key(column) for column in pk_columns)
        out.append(
            DeclaredIndex(
                definition=IndexDef(
                    table=table, name=None, keys=keys, unique=True, primary=True
                ),
                model=model,
                source="pk",
            )
        )
    for field in meta.local_concrete_fields:
        if field.unique and not field.primary_key and field.db_type(connection):
            out.append(
                DeclaredIndex(
                    definition=IndexDef(
                        table=table, name=None, keys=(Key(field.column),), unique=True
                    ),
                    model=model,
                    source="unique",
                    field=field,
                )
            )
    for field in meta.local_fields:
        for statement in editor._field_indexes_sql(model, field):
            parsed = _from_statement(statement, table)
            like = any(key.opclass for key in parsed.keys)
            out.append(
                DeclaredIndex(
                    definition=parsed,
                    model=model,
                    source="like" if like else "field",
                    field=field,
                    statement=str(statement),
                )
            )
    for index in meta.indexes:
        if index.contains_expressions and not (
            connection.features.supports_expression_indexes
        ):
            continue
        statement = index.create_sql(model, editor)
        out.append(
            DeclaredIndex(
                definition=_from_statement(statement, table),
                model=model,
                source="index",
                index=index,
                statement=str(statement),
            )
        )
    for constraint in meta.constraints:
        if not isinstance(constraint, UniqueConstraint):
            continue  # A CheckConstraint is not an index; exclusion ones are skipped.
        created: Any = constraint.create_sql(model, editor)
        if created is not None:  # None: the database cannot make this one.
            out.append(
                DeclaredIndex(
                    definition=_from_statement(created, table),
                    model=model,
                    source="constraint",
                    statement=str(created),
                )
            )
    for field_names in meta.unique_together:
        fields = [meta.get_field(name) for name in field_names]
        statement = editor._create_unique_sql(model, fields)
        if statement is not None:
            out.append(
                DeclaredIndex(
                    definition=_from_statement(statement, table),
                    model=model,
                    source="together",
                    statement=str(statement),
                )
            )
    return out


def _primary_key_columns(model: type[Model]) -> list[str]:
    pk: Any = model._meta.pk
    if pk is None:
        return []
    columns = getattr(pk, "columns", None)  # CompositePrimaryKey (Django 5.2+).
    if columns is not None:
        return [getattr(c, "column", c) for c in columns]
    return [pk.column] if pk.column else []


def _from_statement(statement: Statement, table: str) -> IndexDef:
    """An :class:`IndexDef` from the parts of a ``CREATE INDEX`` or ``ADD CONSTRAINT``
    statement built by the schema editor."""
    parts: dict[str, Any] = statement.parts
    columns = parts["columns"]
    if isinstance(columns, Expressions):
        keys = tuple(_expression_keys(columns))
    else:
        assert isinstance(columns, Columns)
        suffixes = list(columns.col_suffixes or ())
        opclasses = list(getattr(columns, "opclasses", ()) or ())
        keys = tuple(
            Key(
                column,
                opclass=(opclasses[i] if i < len(opclasses) else None) or None,
                descending=(suffixes[i] if i < len(suffixes) else "").strip().upper()
                == "DESC",
            )
            for i, column in enumerate(columns.columns)
        )
    include_part = parts.get("include")
    include: tuple[str, ...] = ()
    if isinstance(include_part, Statement):
        include_columns: Any = include_part.parts["columns"]
        include = tuple(include_columns.columns)
    condition = str(parts.get("condition") or "").strip()
    condition = condition.removeprefix("WHERE ").strip() or ""
    using = str(parts.get("using") or "").strip()
    name = str(parts.get("name") or "").strip('"`[]') or None
    return IndexDef(
        table=table,
        name=name,
        method=using.removeprefix("USING ").strip().lower() or "btree",
        keys=keys,
        include=include,
        unique="UNIQUE" in statement.template,
        predicate=normalize_sql(condition or None),
        predicate_sql=condition or None,
        nulls_not_distinct="NULLS NOT DISTINCT" in str(parts.get("nulls_distinct", "")),
    )


def _expression_keys(part: Expressions) -> list[Key]:
    keys = []
    for expression in part.expressions.get_source_expressions():
        sql, params = part.compiler.compile(expression)
        text = sql % tuple(part.quote_value(p) for p in params)
        descending = nulls = None
        match = _ORDER.search(text)
        if match and (match[1] or match[2]):
            descending = (match[1] or "").upper() == "DESC"
            nulls = (match[2] or "").upper() or None
            text = text[: match.start()]
        text = text.strip()
        while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
            text = text[1:-1].strip()
        nulls_first = nulls is not None and (nulls == "FIRST") != bool(descending)
        collation = None
        collate = _COLLATE.search(text)
        if collate and _IDENTIFIER.match(text[: collate.start()].strip()):
            collation = collate[1]
            text = text[: collate.start()].strip()
        bare = _IDENTIFIER.match(text)
        if bare:  # ``F("name")`` or ``Collate("name", ...)``: a column in the catalog.
            keys.append(
                Key(
                    bare[1],
                    collation=collation,
                    descending=bool(descending),
                    nulls_first=nulls_first,
                )
            )
        else:
            keys.append(
                Key(
                    None,
                    normalize_sql(text),
                    descending=bool(descending),
                    nulls_first=nulls_first,
                    sql=text,
                )
            )
    return keys


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0
