"""What the deploy gate reports: one :class:`Result` per finding, gathered in a :class:`Report`."""

from __future__ import annotations

import dataclasses

from django.core import checks
from django.core.checks import CheckMessage
from django.db import models

# Django's numeric levels by the names the JSON output uses, least severe first.
LEVELS: dict[str, int] = {
    "debug": checks.DEBUG,
    "info": checks.INFO,
    "warning": checks.WARNING,
    "error": checks.ERROR,
    "critical": checks.CRITICAL,
}
FAIL_LEVELS = ("error", "warning", "info")


def level_name(level: int) -> str:
    """The name of a Django check level; a custom level rounds down to a known one."""
    known = [name for name, value in LEVELS.items() if value <= level]
    return known[-1] if known else "debug"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One finding of the gate, in the shape of a Django check message.

    ``obj`` is what the finding is about, as text (``"shop.Order"``, ``"database
    'default'"``), or ``None`` when it is about the project as a whole. ``tags`` are the
    tags that select it with ``--tag``.
    """

    id: str
    level: str
    message: str
    hint: str | None = None
    obj: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def severity(self) -> int:
        return LEVELS[self.level]

    @classmethod
    def from_message(cls, message: CheckMessage, tags: tuple[str, ...]) -> Result:
        """A result from a Django check message, keeping its id, text and object."""
        return cls(
            id=message.id or "?",
            level=level_name(message.level),
            message=message.msg,
            hint=message.hint,
            obj=describe(message.obj),
            tags=tags,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "level": self.level,
            "message": self.message,
            "hint": self.hint,
            "obj": self.obj,
            "tags": list(self.tags),
        }


def describe(obj: object) -> str | None:
    """The object of a check message as Django prints it (a model by its label)."""
    if obj is None:
        return None
    if isinstance(obj, type) and issubclass(obj, models.Model):
        return obj._meta.label
    return str(obj)


@dataclasses.dataclass(slots=True)
class Report:
    """Everything one run of the gate found, and what it could not check."""

    results: list[Result] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)

    def failing(self, fail_level: str) -> list[Result]:
        """The results at or above ``fail_level``."""
        threshold = LEVELS[fail_level]
        return [result for result in self.results if result.severity >= threshold]

    def passed(self, fail_level: str) -> bool:
        return not self.failing(fail_level)

    def counts(self) -> dict[str, int]:
        """How many results there are at each level, most severe first."""
        return {
            name: sum(result.level == name for result in self.results)
            for name in reversed(LEVELS)
        }

    def sorted_results(self) -> list[Result]:
        """Most severe first; within a level, in the order the sections ran."""
        return sorted(self.results, key=lambda result: -result.severity)

    def as_dict(self, fail_level: str) -> dict[str, object]:
        """The JSON document of ``prodkit_check --format json``."""
        return {
            "passed": self.passed(fail_level),
            "fail_level": fail_level,
            "results": [result.as_dict() for result in self.sorted_results()],
            "skipped": list(self.skipped),
        }
