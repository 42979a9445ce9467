"""System checks for ``PRODKIT["HEALTH"]``: prodkit.E020, W021 and E022."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning

from django_prodkit import conf
from django_prodkit.health.registry import load_check

MIN_TOKEN_LENGTH = 24


def check_health(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    health, problems = conf.load()
    if problems:  # prodkit.E001/E002 already say what is wrong.
        return []
    messages: list[CheckMessage] = []
    for path in health.health.checks:
        try:
            load_check(path)
        except Exception as exc:
            messages.append(
                Error(
                    f"PRODKIT['HEALTH']['CHECKS'] entry {path!r} cannot be loaded: "
                    f"{type(exc).__name__}: {exc}",
                    hint="Give the dotted path of a function or a health Check instance.",
                    id="prodkit.E020",
                )
            )
    token = health.health.token
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        messages.append(
            Warning(
                f"PRODKIT['HEALTH']['TOKEN'] is only {len(token)} characters long.",
                hint=f"Use at least {MIN_TOKEN_LENGTH} random characters, e.g. "
                'python -c "import secrets; print(secrets.token_urlsafe(32))".',
                id="prodkit.W021",
            )
        )
    for section, warn, fail in (
        ("DISK", health.health.disk.warn_percent, health.health.disk.fail_percent),
        ("MEMORY", health.health.memory.warn_mb, health.health.memory.fail_mb),
    ):
        if warn is not None and fail is not None and warn > fail:
            messages.append(
                Error(
                    f"PRODKIT['HEALTH'][{section!r}] warns above where it fails: "
                    f"the warning threshold {warn} is over the failure threshold {fail}.",
                    hint="Set the warning threshold below the failure threshold.",
                    id="prodkit.E022",
                )
            )
    return messages
