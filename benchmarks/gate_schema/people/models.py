"""This app's share of the generated models (see ``benchmarks.gate_schema.generate``)."""

from __future__ import annotations

from benchmarks.gate_schema.generate import define

globals().update(define("people", __name__))
