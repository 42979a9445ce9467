from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage

from django_prodkit import conf


def check_settings(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.E001 (unknown key) and prodkit.E002 (wrong type or value) for ``PRODKIT``."""
    return conf.load()[1]
