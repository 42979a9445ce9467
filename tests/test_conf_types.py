"""The parser's type rules, on a section class of the test's own.

Later capabilities declare timeouts (float), backends (Literal) and optional values
(``X | None``); the rules are fixed here so that each section can rely on them.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
from django.core.checks import CheckMessage

from django_prodkit import conf


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    backend: Literal["fixed", "sliding"] = "fixed"
    timeout: float = 1.0
    token: str | None = None
    limit: int | None = None


def parse(**raw):
    problems: list[CheckMessage] = []
    value = conf._parse_section(Section, "PRODKIT['X']", raw, problems)
    return value, [(p.id, p.msg) for p in problems]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"BACKEND": "sliding"}, Section(backend="sliding")),
        ({"TIMEOUT": 2}, Section(timeout=2.0)),
        ({"TIMEOUT": 0.5}, Section(timeout=0.5)),
        ({"TOKEN": "s3cret"}, Section(token="s3cret")),
        ({"TOKEN": None}, Section(token=None)),
        ({"LIMIT": 5}, Section(limit=5)),
    ],
)
def test_accepted_values(raw, expected):
    assert parse(**raw) == (expected, [])


def test_int_becomes_float():
    value, _problems = parse(TIMEOUT=2)
    assert type(value.timeout) is float


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"BACKEND": "slidng"},
            "PRODKIT['X']['BACKEND'] must be one of 'fixed', 'sliding', got 'slidng' (str).",
        ),
        (
            {"BACKEND": 1},
            "PRODKIT['X']['BACKEND'] must be one of 'fixed', 'sliding', got 1 (int).",
        ),
        (
            {"TIMEOUT": True},
            "PRODKIT['X']['TIMEOUT'] must be a float, got True (bool).",
        ),
        ({"TIMEOUT": "1"}, "PRODKIT['X']['TIMEOUT'] must be a float, got '1' (str)."),
        ({"TOKEN": 123}, "PRODKIT['X']['TOKEN'] must be a str or None, got 123 (int)."),
        (
            {"LIMIT": False},
            "PRODKIT['X']['LIMIT'] must be an int or None, got False (bool).",
        ),
    ],
)
def test_rejected_values_are_e002(raw, message):
    value, problems = parse(**raw)
    assert problems == [("prodkit.E002", message)]
    assert value == Section()
