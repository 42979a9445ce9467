"""WSGI entry point, e.g. ``gunicorn example.wsgi`` from ``example_project/``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")

application = get_wsgi_application()
