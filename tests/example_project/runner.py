"""Run the example project in a subprocess: its settings cannot share a process with
``tests.settings``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "example_project"


def example_env(database: Path, **overrides: str) -> dict[str, str]:
    """The environment of a pristine example project, whatever the test run's own is."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PRODKIT_", "CELERY_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example.settings",
        DATABASE_URL=f"sqlite:///{database}",
        # The example's folder is part of the repository: leave no __pycache__ in it.
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(overrides)
    return env


def run(
    args: list[str], env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=EXAMPLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result
