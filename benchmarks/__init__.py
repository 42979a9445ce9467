"""In-process benchmarks for django-prodkit; run ``python benchmarks/run.py``."""

from __future__ import annotations
