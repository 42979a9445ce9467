"""Checks that tests name by dotted path in ``PRODKIT["HEALTH"]["CHECKS"]``."""

from __future__ import annotations

from django_prodkit.exceptions import ServiceWarning
from django_prodkit.health import Check


def queue_depth():
    raise ServiceWarning("42 jobs waiting")


class Always(Check):
    def run(self):
        return {"always": True}


always = Always(name="always-ok", critical=False, timeout=1.0)
not_a_check = 42
