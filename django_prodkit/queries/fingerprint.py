"""Normalised SQL: what makes two statements "the same query", with no value left in it.

Literals (quoted strings, numbers, booleans), placeholders (``%s``, ``?``, ``$1``,
``%(name)s``) and comments are replaced or removed, lists of values are collapsed
(``IN (?, ?, ?)`` and ``IN (?)`` are both ``IN (...)``; the rows of a multi-row
``VALUES`` are one), and whitespace is collapsed. The result is safe to log and store:
no parameter value survives it. The fingerprint is a hash of that text.
"""

from __future__ import annotations

import functools
import hashlib
import re

__all__ = ["MAX_SQL_LENGTH", "fingerprint", "normalise"]

# A statement is read up to this length (a multi-megabyte bulk insert is not worth
# scanning), and its normalised text is stored up to this length.
_READ_LENGTH = 200_000
MAX_SQL_LENGTH = 20_000

# One scan, left to right, so that a quote inside a comment or a comment marker inside a
# string is taken for what it is. Identifiers in double quotes or backticks are kept.
_TOKENS = re.compile(
    r"""
    (?P<comment>/\*.*?\*/|--[^\n]*)
    | (?P<identifier>"(?:[^"]|"")*"|`[^`]*`)
    | (?P<string>(?:\b[EeXxBbNn]|\b[Uu]&)?'(?:[^'\\]|\\.|'')*')
    | (?P<dollar>\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?\$(?P=tag)\$)
    | (?P<placeholder>%\(\w+\)s|%s|\$\d+|(?<![:\w]):[A-Za-z_]\w*|\?)
    | (?P<number>(?<![\w$.])(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?!\w))
    | (?P<boolean>\b(?:TRUE|FALSE|true|false)\b)
    """,
    re.VERBOSE | re.DOTALL,
)
# Django's savepoint names carry the thread and a counter: "s140213_x2".
_SAVEPOINT = re.compile(r'"s\d+_x\d+"')
_NEGATIVE = re.compile(r"([=<>(,]\s*)-\s*\?")
_TUPLE = r"\(\s*\?(?:\s*,\s*\?)*\s*\)"
_VALUES = re.compile(rf"\bVALUES\s*{_TUPLE}(?:\s*,\s*{_TUPLE})*", re.IGNORECASE)
_IN_ROWS = re.compile(rf"\bIN\s*\(\s*{_TUPLE}(?:\s*,\s*{_TUPLE})*\s*\)", re.IGNORECASE)
_IN = re.compile(rf"\bIN\s*{_TUPLE}", re.IGNORECASE)
_ARRAY = re.compile(r"\[\s*\?(?:\s*,\s*\?)*\s*\]")
_SPACE = re.compile(r"\s+")


def _token(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "identifier":
        return _SAVEPOINT.sub('"s?_x?"', match.group())
    if kind == "comment":
        return " "
    return "?"


def normalise(sql: str) -> str:
    """``sql`` with every literal and placeholder replaced by ``?``, ``IN``, ``VALUES``
    and array lists collapsed to ``(...)``, comments removed and whitespace collapsed."""
    if "%s" in sql or "%(" in sql:
        return _normalise_template(sql)
    # SQL without placeholders may carry its values inline: it is not kept in a cache.
    return _normalise(sql)


@functools.lru_cache(maxsize=1024)
def _normalise_template(sql: str) -> str:
    # The ORM's SQL: the same few templates again and again, their values elsewhere.
    return _normalise(sql)


def _normalise(sql: str) -> str:
    text = _TOKENS.sub(_token, sql[:_READ_LENGTH])
    if "'" in text:
        # An unterminated string (cut off, or quoted in a way the scan does not know):
        # what follows the quote may be data, so it goes.
        text = text[: text.index("'")] + "?"
    text = _NEGATIVE.sub(r"\1?", text)
    text = _VALUES.sub("VALUES (...)", text)
    text = _IN_ROWS.sub("IN ((...))", text)
    text = _IN.sub("IN (...)", text)
    text = _ARRAY.sub("[...]", text)
    return _SPACE.sub(" ", text).strip()


def fingerprint(normalised: str) -> str:
    """A short hash of normalised SQL: 32 hexadecimal digits."""
    return hashlib.sha256(normalised.encode("utf-8", "replace")).hexdigest()[:32]
