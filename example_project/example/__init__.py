"""The example project's settings package; loading it also loads the Celery app."""

from __future__ import annotations

from example.celery import app as celery_app

__all__ = ["celery_app"]
