"""One module per benchmark; each defines ``SPEC``, registered by name in ``run.py``."""

from __future__ import annotations
