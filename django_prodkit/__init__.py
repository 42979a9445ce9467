"""django-prodkit: make a Django site production-ready in one INSTALLED_APPS line."""

from __future__ import annotations

__version__ = "0.1.0"
