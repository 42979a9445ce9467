"""Fingerprints: what makes two occurrences the same error.

A fingerprint is the SHA-256 of the exception type, the innermost frame in the project's
own code (module and function, not the line, so an edit elsewhere in the file does not
split a group) and the message with the parts that vary per occurrence stripped: quoted
values, UUIDs, hexadecimal ids, e-mail addresses and numbers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from types import FrameType, TracebackType

from django_prodkit.project_code import is_project_file

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
