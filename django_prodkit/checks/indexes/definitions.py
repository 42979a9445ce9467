"""What an index is, independent of its name, and how SQL text is normalised.

Both sides, the indexes the models declare and the indexes the catalog has, are turned
into :class:`IndexDef` values so that they compare by definition, never by name.
"""

from __future__ import annotations

import dataclasses
import re

# PostgreSQL prints casts Django never writes: ``(status)::text = 'a'::text``.
_MULTIWORD_TYPES = (
    "character varying",
    "timestamp with time zone",
    "timestamp without time zone",
    "time with time zone",
    "time without time zone",
    "double precision",
    "bit varying",
)
_CAST = re.compile(
    r"::\s*(?:"
    + "|".join(t.replace(" ", r"\s+") for t in _MULTIWORD_TYPES)
    + r'|"[^"]+"|[\w.]+)(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\[\])*',
    re.IGNORECASE,
)
_LITERAL = re.compile(r"('(?:[^']|'')*')")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
# PostgreSQL's deparse of ``x IN (1, 2)`` is ``x = ANY (ARRAY[1, 2])``.
_ANY_ARRAY = re.compile(r"=any\s*array\[([^\]]*)\]")
_OPERATORS = {"!~~*": "notilike", "~~*": "ilike", "!~~": "notlike", "~~": "like"}


def normalize_sql(text: str | None) -> str | None:
    """A canonical form of a predicate or an index expression, for comparison only.

    Casts, double quotes, parentheses, whitespace and letter case outside string
    literals are dropped, so that PostgreSQL's ``pg_get_expr`` output and the SQL Django
    compiles for the same condition come out equal.
    """
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    pieces = _LITERAL.split(text)
    out: list[str] = []
    for number, piece in enumerate(pieces):
        if number % 2:  # A string literal: kept as written.
            out.append(piece)
            continue
        piece = _CAST.sub("", piece)
        for operator, word in _OPERATORS.items():
            piece = piece.replace(operator, f" {word} ")
        piece = re.sub(r'["()\s]', "", piece).lower()
        out.append(piece)
    return _ANY_ARRAY.sub(lambda m: "in" + m[1], "".join(out))


def identifiers(text: str | None) -> frozenset[str]:
    """The words of ``text`` outside string literals, lower-cased and unquoted."""
    if not text:
        return frozenset()
    words: set[str] = set()
    for number, piece in enumerate(_LITERAL.split(text)):
        if number % 2 == 0:
            words.update(w.lower() for w in _WORD.findall(piece.replace('"', " ")))
    return frozenset(words)


@dataclasses.dataclass(frozen=True, slots=True)
class Key:
    """One key column of an index: a column name or an expression, with its options."""

    column: str | None
    expression: str | None = None  # Normalised; None for a plain column.
    opclass: str | None = None  # Only when not the type's default.
    collation: str | None = None  # Only when not the column's own.
    descending: bool = False
    nulls_first: bool = False  # Only when not the direction's default.
    sql: str | None = dataclasses.field(default=None, compare=False)  # As written.

    def is_column(self, name: str | None = None) -> bool:
        return self.expression is None and (name is None or self.column == name)

    def loose(self, columns: frozenset[str]) -> object:
        """This key for a comparison that forgives how an expression is spelt: a
        column key as it is, an expression by the table's columns it mentions."""
        if self.expression is None:
            return self
        return identifiers(self.sql or self.expression) & columns

    def text(self) -> str:
        parts = [
            self.column if self.expression is None else self.sql or self.expression
        ]
        if self.collation:
            parts.append(f'COLLATE "{self.collation}"')
        if self.opclass:
            parts.append(self.opclass)
        if self.descending:
            parts.append("DESC")
        if self.nulls_first:
            parts.append("NULLS LAST" if self.descending else "NULLS FIRST")
        return " ".join(p for p in parts if p)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IndexDef:
    """An index as the database has it, or as a model declares it."""

    table: str
    name: str | None
    method: str = "btree"
    keys: tuple[Key, ...]
    include: tuple[str, ...] = ()
    unique: bool = False
    primary: bool = False
    predicate: str | None = None  # Normalised.
    predicate_sql: str | None = None  # As written, for messages.
    nulls_not_distinct: bool = False
    # Catalog side only.
    valid: bool = True
    constraint: str | None = None  # The constraint it backs ("p", "u" or "x").
    size: int | None = None
    scans: int | None = None

    def signature(self) -> tuple[object, ...]:
        return (
            self.table,
            self.method,
            self.keys,
            tuple(sorted(self.include)),
            self.unique,
            self.predicate,
            self.nulls_not_distinct,
        )

    def loose_signature(self, columns: frozenset[str]) -> tuple[object, ...]:
        """Like :meth:`signature`, but expressions and predicates only by the columns
        they mention: a last resort when both sides spell one differently."""
        return (
            self.table,
            self.method,
            tuple(key.loose(columns) for key in self.keys),
            tuple(sorted(self.include)),
            self.unique,
            identifiers(self.predicate_sql) & columns
            if self.predicate is not None
            else None,
            self.nulls_not_distinct,
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the keys name, expressions left out."""
        return tuple(k.column for k in self.keys if k.expression is None and k.column)

    def describe(self) -> str:
        text = ", ".join(key.text() for key in self.keys)
        out = f"({text})"
        if self.method != "btree":
            out = f"USING {self.method} {out}"
        if self.unique:
            out = f"UNIQUE {out}"
        if self.include:
            out += f" INCLUDE ({', '.join(self.include)})"
        if self.nulls_not_distinct:
            out += " NULLS NOT DISTINCT"
        if self.predicate_sql:
            out += f" WHERE {self.predicate_sql}"
        return out
