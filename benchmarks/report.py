"""Statistics over rounds, the printed table and the ``--json`` document."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from benchmarks.harness import Case, RoundStats


@dataclass(frozen=True)
class Span:
    """The median over rounds and the range across them."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Span:
        return cls(statistics.median(values), min(values), max(values))


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    p50_us: Span  # per-round p50s
    mean_us: Span  # per-round means
    delta_us: Span  # per-round p50 minus the baseline's p50 in the same round
    ratio: float  # median of per-round p50 / baseline p50
    rounds_p50_us: list[float]


def summarise(
    cases: Sequence[Case], stats: dict[str, list[RoundStats]], baseline: str
) -> list[Row]:
    base = [item.p50_us for item in stats[baseline]]
    rows = []
    for case in cases:
        p50 = [item.p50_us for item in stats[case.key]]
        rows.append(
            Row(
                key=case.key,
                label=case.label,
                p50_us=Span.of(p50),
                mean_us=Span.of([item.mean_us for item in stats[case.key]]),
                delta_us=Span.of(
                    [value - ref for value, ref in zip(p50, base, strict=True)]
                ),
                ratio=statistics.median(
                    value / ref for value, ref in zip(p50, base, strict=True)
                ),
                rounds_p50_us=[round(value, 2) for value in p50],
            )
        )
    return rows


def _p50(span: Span) -> str:
    return f"{span.median:.1f} [{span.low:.1f}–{span.high:.1f}]"


def signed(value: float) -> str:
    """``+1.5``, ``−0.3`` (a true minus sign), and ``0.0`` without a sign."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text.replace("-", "−")


def _delta(span: Span) -> str:
    return f"{signed(span.median)} [{signed(span.low)} – {signed(span.high)}]"


def table(rows: Sequence[Row], baseline: str) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    header = [
        "case",
        "p50 µs [min–max]",
        f"Δ vs ({baseline}) µs [min–max]",
        f"× ({baseline})",
    ]
    body = [
        [
            f"({row.key}) {row.label}",
            _p50(row.p50_us),
            "—" if row.key == baseline else _delta(row.delta_us),
            f"{row.ratio:.2f}",
        ]
        for row in rows
    ]
    return markdown(header, body)


def markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A Markdown table, padded so that it also reads well in a terminal.

    The header and the first column are left-aligned, the other columns right-aligned.
    """
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str], left: bool) -> str:
        padded = [
            cell.ljust(width) if left or i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (width + 1) + (":" if i else "-") for i, width in enumerate(widths)
    )
    return "\n".join([line(header, True), rule + "|", *(line(r, False) for r in body)])


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def as_json(rows: Sequence[Row]) -> list[dict[str, object]]:
    return [
        {key: _rounded(value) for key, value in asdict(row).items()} for row in rows
    ]
