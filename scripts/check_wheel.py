"""Check that a built wheel holds what an install needs (usage: check_wheel.py DIST_DIR)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

REQUIRED = [
    "django_prodkit/py.typed",
    "django_prodkit/apps.py",
    "django_prodkit/conf/__init__.py",
]
REQUIRED_DIRS = ["templates", "static", "migrations"]


def main(dist: Path) -> int:
    [wheel] = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = Path(__file__).resolve().parent.parent / "django_prodkit"
    expected = set(REQUIRED)
    for directory in REQUIRED_DIRS:
        expected |= {
            str(path.relative_to(source.parent))
            for path in (source).rglob(f"{directory}/**/*")
            if path.is_file() and "__pycache__" not in path.parts
        }
    missing = sorted(expected - names)
    if missing:
        print(f"{wheel.name} lacks: " + ", ".join(missing))
        return 1
    if any(name.startswith("tests/") for name in names):
        print(f"{wheel.name} ships the test suite")
        return 1
    print(f"{wheel.name}: {len(names)} files, all expected files present")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
