"""The settings sections of the deploy gate and of index inspection."""

from __future__ import annotations

import dataclasses

from django_prodkit.conf.validators import (
    between,
    not_negative,
    positive,
    ratio,
    validated,
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GateSettings:
    """``PRODKIT["GATE"]``: the deploy gate, ``manage.py prodkit_check``."""

    databases: tuple[str, ...] | None = None
    timeout: float = validated(5.0, positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IndexesSettings:
    """``PRODKIT["INDEXES"]``: index inspection, ``manage.py prodkit_indexes``."""

    exclude: tuple[str, ...] = ()
    stats_min_age_hours: float = validated(24.0, not_negative)
    unused_min_size_mb: float = validated(1.0, not_negative)
    seq_scan_min_rows: int = validated(10000, between(1, 10**12))
    sequence_ratio: float = validated(0.8, ratio)
    xid_age: int = validated(1_000_000_000, between(1, 2**31))
    long_session_seconds: float = validated(60.0, positive)
