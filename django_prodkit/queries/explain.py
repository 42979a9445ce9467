"""``EXPLAIN`` of a slow sample on PostgreSQL, with the values the plan inlines redacted.

Only plain ``EXPLAIN (FORMAT TEXT)``: ``EXPLAIN ANALYZE`` would run the statement again
(and apply a write twice). A plan shows the sample's parameter values as constants in
its conditions, so quoted literals everywhere, and numbers and booleans in the detail
lines (``Index Cond: (id = 42)``), are replaced before the plan is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, transaction

__all__ = ["PLAN_TIMEOUT_MS", "explain", "is_explainable", "redact_plan"]

# Planning a statement is quick; this bounds a pathological one.
PLAN_TIMEOUT_MS = 5000
_MAX_PLAN_LENGTH = 100_000

_SELECT = re.compile(r"\s*\(*\s*(?:SELECT|WITH)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE|INTO)\b", re.IGNORECASE)
_IDENTIFIER = re.compile(r'"(?:[^"]|"")*"')
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w$.])-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
_BOOLEAN = re.compile(r"\b(?:true|false)\b")


def is_explainable(normalised: str) -> bool:
    """A plain read: ``SELECT``, or ``WITH`` whose statements write nothing."""
    bare = _IDENTIFIER.sub('""', normalised)  # A column named "update" writes nothing.
    return bool(_SELECT.match(bare)) and not _WRITES.search(bare)


def explain(
    alias: str, sql: str, params: Sequence[Any] | Mapping[str, Any] | None
) -> str:
    """The redacted plan of ``sql`` on this thread's connection to ``alias``."""
    connection = connections[alias]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {PLAN_TIMEOUT_MS:d}")
        cursor.execute(f"EXPLAIN (FORMAT TEXT) {sql}", params)
        rows = cursor.fetchall()
    return redact_plan("\n".join(str(row[0]) for row in rows))[:_MAX_PLAN_LENGTH]


def redact_plan(plan: str) -> str:
    """``plan`` with quoted literals, and the constants of its detail lines, as ``?``."""
    lines = []
    for line in plan.splitlines():
        line = _QUOTED.sub("'?'", line)
        label, colon, detail = line.partition(": ")
        # Values sit in the detail lines ("Index Cond: (id = 42)"), not in the node
        # lines, whose numbers are the planner's estimates, nor in "InitPlan 1".
        if colon and "(cost=" not in line:
            line = label + colon + _BOOLEAN.sub("?", _NUMBER.sub("?", detail))
        lines.append(line)
    return "\n".join(lines)
