"""The deploy gate behind ``manage.py prodkit_check``.

``run(tags)`` runs Django's system checks (deploy checks included), the migrations,
connectivity and index sections, and returns a :class:`Report` of :class:`Result`.
"""

from __future__ import annotations

from django_prodkit.checks.gate.engine import (
    GATE_TAGS,
    UsageError,
    available_tags,
    gate_databases,
    run,
)
from django_prodkit.checks.gate.results import FAIL_LEVELS, LEVELS, Report, Result

__all__ = [
    "FAIL_LEVELS",
    "GATE_TAGS",
    "LEVELS",
    "Report",
    "Result",
    "UsageError",
    "available_tags",
    "gate_databases",
    "run",
]
