"""Fingerprints: what makes two occurrences the same error.

A fingerprint is the SHA-256 of the exception type, the innermost frame in the project's
own code (module and function, not the line, so an edit elsewhere in the file does not
split a group) and the message with the parts that vary per occurrence stripped: quoted
values, UUIDs, hexadecimal ids, e-mail addresses and numbers.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import site
import sysconfig
from collections.abc import Iterator
from types import FrameType, TracebackType

import django

import django_prodkit

_VARIABLE_PARTS = (
    # Quoted values first: what is inside a quote is data, whatever it looks like.
    (re.compile(r"'(?:[^'\\\n]|\\.){0,500}'|\"(?:[^\"\\\n]|\\.){0,500}\""), "<str>"),
    (
        re.compile(
            r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b",
            re.I,
        ),
        "<uuid>",
    ),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # A run of 8+ hex digits with at least one digit: hashes, tokens, object ids.
    (re.compile(r"\b(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"[-+]?\b\d+(?:[.,:]\d+)*\b"), "<n>"),
)
MESSAGE_LIMIT = 2000


def normalise_message(message: str) -> str:
    """``message`` with quoted values, UUIDs, hex ids, e-mail addresses and numbers
    replaced by placeholders, so that occurrences with different data compare equal."""
    text = message[:MESSAGE_LIMIT]
    for pattern, placeholder in _VARIABLE_PARTS:
        text = pattern.sub(placeholder, text)
    return " ".join(text.split())


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


def frames(traceback: TracebackType | None) -> Iterator[tuple[FrameType, int]]:
    """The frames of a traceback, outermost first, with their line numbers."""
    while traceback is not None:
        yield traceback.tb_frame, traceback.tb_lineno
        traceback = traceback.tb_next


def culprit(traceback: TracebackType | None) -> tuple[str, str, int]:
    """``(module, function, line)`` of the innermost project frame, else of the innermost
    frame; empty when there is no traceback."""
    innermost: tuple[str, str, int] = ("", "", 0)
    in_project = False
    for frame, line in frames(traceback):
        code = frame.f_code
        if is_project_file(code.co_filename):
            in_project = True
        elif in_project:
            continue
        innermost = (frame.f_globals.get("__name__", "?"), code.co_name, line)
    return innermost


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()
