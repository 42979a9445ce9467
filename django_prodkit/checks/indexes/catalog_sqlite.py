"""The SQLite catalog, through table-valued pragma functions joined to sqlite_master:
three queries, whatever the number of tables."""

from __future__ import annotations

import json
from collections.abc import Collection
from itertools import groupby

from django.db.backends.base.base import BaseDatabaseWrapper

from django_prodkit.checks.indexes.catalog import Catalog, ForeignKey
from django_prodkit.checks.indexes.definitions import IndexDef, Key, normalize_sql

_SELECTED = "m.type = 'table' AND m.name IN (SELECT value FROM json_each(%s))"

_COLUMNS = f"""
SELECT m.name, ti.name, ti.pk
FROM sqlite_master m JOIN pragma_table_info(m.name) ti
WHERE {_SELECTED}
ORDER BY m.name, ti.pk
"""

_INDEXES = f"""
SELECT m.name, il.name, il."unique", il.origin, ix.seqno, ix.cid, ix.name, ix."desc",
       s.sql
FROM sqlite_master m
JOIN pragma_index_list(m.name) il
JOIN pragma_index_xinfo(il.name) ix
LEFT JOIN sqlite_master s ON s.type = 'index' AND s.name = il.name
WHERE {_SELECTED} AND ix."key" = 1 AND il.origin <> 'pk'
ORDER BY m.name, il.name, ix.seqno
"""

_FOREIGN_KEYS = f"""
SELECT m.name, f.id, f."table", f."from"
FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
WHERE {_SELECTED}
ORDER BY m.name, f.id, f.seq
"""


def read(connection: BaseDatabaseWrapper, tables: Collection[str]) -> Catalog:
    catalog = Catalog()
    selected = json.dumps(sorted(tables))
    with connection.cursor() as cursor:
        cursor.execute(_COLUMNS, [selected])
        for table, rows in groupby(cursor.fetchall(), key=lambda row: row[0]):
            catalog.tables.add(table)
            # The primary key has no entry in index_list when it is the rowid.
            primary = [column for _, column, pk in rows if pk]
            if primary:
                keys = tuple(Key(column) for column in primary)
                catalog.indexes.append(
                    IndexDef(
                        table=table,
                        name=None,
                        keys=keys,
                        unique=True,
                        primary=True,
                        constraint="p",
                    )
                )
        cursor.execute(_INDEXES, [selected])
        for (table, name), rows in groupby(
            cursor.fetchall(), key=lambda row: (row[0], row[1])
        ):
            catalog.indexes.append(_index(table, name, list(rows)))
        cursor.execute(_FOREIGN_KEYS, [selected])
        for (table, _id), rows in groupby(
            cursor.fetchall(), key=lambda row: (row[0], row[1])
        ):
            fk_rows = list(rows)
            catalog.foreign_keys.append(
                ForeignKey(
                    table=table,
                    name=None,
                    columns=tuple(row[3] for row in fk_rows),
                    target=fk_rows[0][2],
                )
            )
    return catalog


def _index(table: str, name: str, rows: list[tuple[object, ...]]) -> IndexDef:
    unique, origin, sql = rows[0][2], rows[0][3], rows[0][8]
    items, predicate = split_create_index(str(sql)) if sql else ([], None)
    keys = []
    for _t, _n, _u, _o, seqno, cid, column, desc, _s in rows:
        assert isinstance(seqno, int)
        if cid == -2:  # An expression: its text is only in the CREATE INDEX.
            text = items[seqno] if seqno < len(items) else ""
            text = _strip_order(text)
            keys.append(Key(None, normalize_sql(text) or "?", sql=text))
        else:
            keys.append(Key(str(column), descending=bool(desc)))
    return IndexDef(
        table=table,
        name=name,
        keys=tuple(keys),
        unique=bool(unique),
        predicate=normalize_sql(predicate),
        predicate_sql=predicate,
        constraint="u" if origin == "u" else None,
    )


def _strip_order(text: str) -> str:
    words = text.rstrip().split()
    while words and words[-1].upper() in {"ASC", "DESC"}:
        words.pop()
    return " ".join(words)


def split_create_index(sql: str) -> tuple[list[str], str | None]:
    """The key items and the ``WHERE`` predicate of a ``CREATE INDEX`` statement."""
    upper = sql.upper()
    start = sql.find("(", upper.find(" ON "))
    items: list[str] = []
    depth = 0
    quote: str | None = None
    current = ""
    end = len(sql)
    for position in range(start + 1, len(sql)):
        char = sql[position]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                end = position
                break
            depth -= 1
        elif char == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        current += char
    items.append(current.strip())
    rest = sql[end + 1 :]
    where = rest.upper().find("WHERE")
    return items, (rest[where + 5 :].strip() or None) if where >= 0 else None
