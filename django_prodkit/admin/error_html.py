"""HTML fragments of the error group pages, escaped, with classes from errors.css."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from django_prodkit.admin.security import _compact
from django_prodkit.errors.models import ErrorGroup


def breakable(text: str) -> SafeString:
    # Dotted paths have no spaces: let the browser wrap them after a dot, not overflow.
    parts = re.split(r"(?<=[./])(?=.)", text)
    return format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in parts))


def when(value: datetime.datetime) -> SafeString:
    # Date and time on two lines when space is short, never broken at a hyphen.
    date, _space, time = _compact(value).partition(" ")
    return format_html(
        '<span class="prodkit-nowrap">{}</span> <span class="prodkit-nowrap">{}</span>',
        date,
        time,
    )


def badge(value: str, label: str) -> SafeString:
    return format_html('<span class="prodkit-badge prodkit-{}">{}</span>', value, label)


def pre(text: str, classes: str = "prodkit-pre") -> SafeString:
    return format_html('<pre class="{}">{}</pre>', classes, text)


def frame_locals(obj: ErrorGroup) -> SafeString:
    return format_html_join(
        "",
        '<div class="prodkit-frame"><h3>{} <span>{}</span></h3>{}</div>',
        ((*_heading(frame), table(frame.get("locals"))) for frame in frames(obj)),
    )


def _heading(frame: Mapping[str, Any]) -> tuple[str, str]:
    where = ".".join(
        str(part) for part in (frame.get("module"), frame.get("function")) if part
    )
    line = _("line %(line)s") % {"line": frame.get("line", "?")}
    if frame.get("in_project"):
        line = f"{line} · {_('project code')}"
    return where, str(line)


def pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def table(mapping: object) -> SafeString:
    if not isinstance(mapping, Mapping) or not mapping:
        return format_html("{}", "-")
    rows: Iterable[tuple[str, str]] = (
        (str(name), value if isinstance(value, str) else pretty(value))
        for name, value in mapping.items()
    )
    return format_html(
        '<table class="prodkit-table"><tbody>{}</tbody></table>',
        format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
    )


def section(obj: ErrorGroup, key: str) -> dict[str, Any]:
    context = obj.context if isinstance(obj.context, dict) else {}
    value = context.get(key)
    return value if isinstance(value, dict) else {}


def frames(obj: ErrorGroup) -> list[dict[str, Any]]:
    context = obj.context if isinstance(obj.context, dict) else {}
    frames = context.get("frames")
    if not isinstance(frames, list):
        return []
    return [frame for frame in frames if isinstance(frame, dict)]
