"""Which source files are the project's own code: used by errors (an error's culprit) and
by queries (the call site of an N+1 pattern)."""

from __future__ import annotations

import functools
import os
import site
import sysconfig

import django

import django_prodkit

__all__ = ["is_project_file"]


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {
        paths[name]
        for name in ("stdlib", "platstdlib", "purelib", "platlib")
        if name in paths
    }
    roots.update(getattr(site, "getsitepackages", list)())
    roots.add(site.getusersitepackages())
    roots.add(os.path.dirname(django.__file__))
    roots.add(os.path.dirname(django_prodkit.__file__))
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)


@functools.lru_cache(maxsize=4096)
def is_project_file(filename: str) -> bool:
    """Whether ``filename`` is the project's own code: not the standard library, not an
    installed package, not Django or prodkit, and not generated code (``<string>``)."""
    if not filename or filename.startswith("<"):
        return False
    return not os.path.realpath(filename).startswith(_library_roots())
