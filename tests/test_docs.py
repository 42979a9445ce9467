"""The docs list every setting and every check id that the code has, and nothing else."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from django_prodkit import conf

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "django_prodkit"

CHECK_ID = re.compile(r"prodkit\.[EWI]\d{3}")
# ``### SECTION.KEY: type``; a key of a nested section is ``### SECTION.NESTED.KEY: type``.
KEY_HEADING = re.compile(r"### (?P<path>\w+(?:\.\w+)+): (?P<type>.+)")
# ``## SECTION``, and ``## SECTION.NESTED`` above the keys of a nested section.
SECTION_HEADING = re.compile(r"^## (\w+(?:\.\w+)*)$", re.MULTILINE)
LINK_TARGET = re.compile(
    r"\]\(<?(?P<inline>[^)\s>]+)|^\[[^\]]+\]:\s*<?(?P<reference>\S+?)>?$", re.MULTILINE
)
# README links into the docs either as files of the repository or as pages of the built site.
DOCS_FILE = re.compile(r"(?:\./)?docs/(?P<file>[^#?]+)(?:[#?].*)?")
DOCS_SITE = re.compile(
    r"https?://django-prodkit\.readthedocs\.io/(?:en/[^/#?]+/)?(?P<page>[^#?]*)(?:[#?].*)?"
)


def _literal(value: object) -> str:
    """How the docs write a default: a Python literal with strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        items = [_literal(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items())
            + "}"
        )
    return repr(value)


def _default(field: dataclasses.Field[object]) -> object:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _documented_keys() -> dict[tuple[str, ...], tuple[str, list[str]]]:
    """``(SECTION, ..., KEY) -> (type, lines of the entry)`` for every ``###`` heading."""
    lines = (DOCS / "configuration.md").read_text().splitlines()
    entries: dict[tuple[str, ...], tuple[str, list[str]]] = {}
    heading: tuple[str, ...] | None = None
    in_code = False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        elif line.startswith("#") and not in_code:
            heading = None
        if line.startswith("### ") and not in_code:
            match = KEY_HEADING.fullmatch(line)
            assert match, f"not a key heading: {line!r}"
            heading = tuple(match["path"].split("."))
            assert heading not in entries, f"documented twice: {line!r}"
            entries[heading] = (match["type"], [])
        elif heading is not None:
            entries[heading][1].append(line)
    return entries


def _sections() -> dict[tuple[str, ...], Any]:
    """``(SECTION, ...) -> settings class`` for every section, nested ones included."""
    found: dict[tuple[str, ...], Any] = {}

    def walk(cls: Any, path: tuple[str, ...]) -> None:
        for key, field in conf._fields(cls).items():
            field_cls = conf._hints(cls)[field.name]
            if dataclasses.is_dataclass(field_cls):
                found[(*path, key)] = field_cls
                walk(field_cls, (*path, key))

    walk(conf.Settings, ())
    return found


def _expected_keys() -> dict[tuple[str, ...], tuple[str, object]]:
    """Every key of every section; a nested section is not a key, its keys are."""
    expected = {}
    for path, section_cls in _sections().items():
        hints = conf._hints(section_cls)
        for key, field in conf._fields(section_cls).items():
            if dataclasses.is_dataclass(hints[field.name]):
                continue
            # The annotation as written: conf.sections uses ``from __future__ import annotations``.
            expected[(*path, key)] = (str(field.type), _default(field))
    return expected


def test_every_setting_has_a_heading_with_its_type():
    documented = {key: entry[0] for key, entry in _documented_keys().items()}
    expected = {
        key: annotation for key, (annotation, _value) in _expected_keys().items()
    }
    assert documented == expected


def test_every_section_has_a_heading():
    headings = set(SECTION_HEADING.findall((DOCS / "configuration.md").read_text()))
    assert {".".join(path) for path in _sections()} <= headings


def test_every_documented_setting_states_its_default():
    documented = _documented_keys()
    for key, (_annotation, default) in _expected_keys().items():
        assert key in documented, f"{key} has no heading"
        _type, lines = documented[key]
        default_lines = [line for line in lines if line.startswith("Default: ")]
        assert default_lines == [f"Default: `{_literal(default)}`."], f"{key} default"


def test_every_check_id_in_the_code_has_a_heading_and_no_other():
    in_code = {
        check_id
        for path in PACKAGE.rglob("*.py")
        for check_id in CHECK_ID.findall(path.read_text())
    }
    headings = re.findall(
        r"^#+ (prodkit\.\w+)", (DOCS / "checks.md").read_text(), re.MULTILINE
    )
    assert len(headings) == len(set(headings))
    assert set(headings) == in_code


def _readme_docs_links() -> list[tuple[str, Path]]:
    """``(link, docs file it needs)`` for every README link into the docs."""
    found = []
    for match in LINK_TARGET.finditer((ROOT / "README.md").read_text()):
        target = match["inline"] or match["reference"]
        if file := DOCS_FILE.fullmatch(target):
            found.append((target, DOCS / file["file"]))
        elif site := DOCS_SITE.fullmatch(target):
            page = site["page"].strip("/")
            found.append((target, DOCS / f"{page}.md" if page else DOCS / "index.md"))
    return found


def test_readme_links_only_to_docs_pages_that_exist():
    links = _readme_docs_links()
    if not links:
        pytest.skip("README.md has no links into the docs yet")
    missing = [link for link, path in links if not path.is_file()]
    assert missing == []
