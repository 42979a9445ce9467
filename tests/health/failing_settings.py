"""``tests.settings`` with one critical check that always fails, for subprocess runs."""

from __future__ import annotations

from tests.health.helpers import ONLY_CUSTOM
from tests.settings import *  # noqa: F403

PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CHECKS": ["tests.health.helpers.failing_check"]}}
