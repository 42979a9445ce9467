"""What a health check is and what it reports."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

Status = Literal["ok", "warn", "fail"]
Details = Mapping[str, object] | None
CheckFunction = Callable[[], Details] | Callable[[], Awaitable[Details]]


@dataclasses.dataclass(kw_only=True)
class Check:
    """A health check: subclass it and implement ``run()``, or register a function.

    ``run()`` (sync or ``async``) returns ``None`` or a mapping of details when the
    service is fine, and raises ``ServiceWarning`` or ``ServiceUnavailable`` when it is
    not; any other exception counts as ``fail``. Details and messages are shown only to
    staff and token holders. Fields holding secrets should use ``field(repr=False)``.
    """

    name: str
    critical: bool = True
    timeout: float | None = None

    def run(self) -> Details | Awaitable[Details]:
        raise NotImplementedError


@dataclasses.dataclass(kw_only=True)
class FunctionCheck(Check):
    """A check made from a plain function, as ``register()`` makes it."""

    function: CheckFunction = dataclasses.field(repr=False)

    def run(self) -> Details | Awaitable[Details]:
        return self.function()

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One check's outcome. ``message`` and ``details`` are for trusted readers only."""

    name: str
    status: Status
    latency_ms: float
    critical: bool
    message: str = ""
    details: Mapping[str, object] = dataclasses.field(default_factory=dict)
    timed_out: bool = False

    def as_dict(self, *, detailed: bool) -> dict[str, object]:
        data: dict[str, object] = {
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "critical": self.critical,
        }
        if detailed:
            data["message"] = self.message
            if self.timed_out:
                data["timeout"] = True
            if self.details:
                data["details"] = dict(self.details)
        return data


def overall(results: list[Result]) -> Literal["healthy", "degraded", "unhealthy"]:
    """``unhealthy`` when a critical check fails, ``degraded`` when any other is not ok."""
    if any(result.critical and result.status == "fail" for result in results):
        return "unhealthy"
    if any(result.status != "ok" for result in results):
        return "degraded"
    return "healthy"
