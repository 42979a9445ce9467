from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.example_project.runner import EXAMPLE_DIR, example_env, run

# The "core" tox environment installs no extras, and whitenoise is in no dependency group yet.
_MISSING = [
    name
    for name in ("whitenoise", "celery", "dj_database_url", "django_redis")
    if importlib.util.find_spec(name) is None
]

Manage = Callable[..., subprocess.CompletedProcess[str]]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not EXAMPLE_DIR.is_dir():  # An sdist ships tests/ but not example_project/.
        pytest.skip(f"no example project at {EXAMPLE_DIR}")
    if _MISSING:
        pytest.skip(f"the example project needs {', '.join(_MISSING)}")


@pytest.fixture
def manage(tmp_path: Path) -> Manage:
    """Run ``manage.py ARGS`` on a fresh SQLite file; keyword arguments set env vars."""
    database = tmp_path / "db.sqlite3"

    def manage(
        *args: str, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return run(["manage.py", *args], example_env(database, **env), check=check)

    return manage
