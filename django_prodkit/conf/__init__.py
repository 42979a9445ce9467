"""The typed settings object: ``PRODKIT = {...}`` merged over documented defaults.

Read settings with ``conf.get()``; it is cached and reset when ``PRODKIT`` changes, so a hot
path pays one function call. The system check and the runtime share one parser, ``parse()``.
The sections are in ``conf.sections``, their validators in ``conf.validators``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin, get_type_hints

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from django_prodkit.conf.deploy import GateSettings, IndexesSettings
from django_prodkit.conf.sections import (
    AlertSettings,
    BrokerCheckSettings,
    CacheCheckSettings,
    ClientIPSettings,
    DatabaseCheckSettings,
    DiskCheckSettings,
    ErrorsSettings,
    HealthSettings,
    IdempotencySettings,
    LockingSettings,
    LogsSettings,
    MemoryCheckSettings,
    MetricsSettings,
    MigrationsCheckSettings,
    QueriesSettings,
    RateLimitSettings,
    RedisCheckSettings,
    RedisSettings,
    RollupSettings,
    RuleSettings,
    SecuritySettings,
    Settings,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "AlertSettings",
    "ErrorsSettings",
    "GateSettings",
    "IndexesSettings",
    "BrokerCheckSettings",
    "CacheCheckSettings",
    "ClientIPSettings",
    "DatabaseCheckSettings",
    "DiskCheckSettings",
    "HealthSettings",
    "LogsSettings",
    "MemoryCheckSettings",
    "MetricsSettings",
    "MigrationsCheckSettings",
    "QueriesSettings",
    "IdempotencySettings",
    "LockingSettings",
    "RateLimitSettings",
    "RedisCheckSettings",
    "RedisSettings",
    "RollupSettings",
    "RuleSettings",
    "SecuritySettings",
    "Settings",
    "get",
    "load",
    "parse",
]


def parse(raw: object) -> tuple[Settings, list[CheckMessage]]:
    """Merge ``raw`` over the defaults; return the settings and every problem found.

    Invalid values are left at their defaults in the returned object, so a caller that
    ignores the problems still gets a usable configuration.
    """
    problems: list[CheckMessage] = []
    if not isinstance(raw, Mapping):
        problems.append(
            Error(
                f"PRODKIT must be a dict, not {_type_name(raw)}.",
                hint='Write PRODKIT = {"LOGS": {...}, ...} in your settings.',
                id="prodkit.E002",
            )
        )
        return Settings(), problems
    sections: dict[str, object] = {}
    for key, value in raw.items():
        field = _fields(Settings).get(key) if isinstance(key, str) else None
        if field is None:
            problems.append(_unknown(f"PRODKIT[{key!r}]", key, _fields(Settings)))
            continue
        section_type = _hints(Settings)[field.name]
        sections[field.name] = _parse_section(
            section_type, f"PRODKIT[{key!r}]", value, problems
        )
    return Settings(**sections), problems  # type: ignore[arg-type]


def load() -> tuple[Settings, list[CheckMessage]]:
    """Parse the current ``settings.PRODKIT``."""
    return parse(getattr(settings, "PRODKIT", {}))


@functools.cache
def get() -> Settings:
    """The current settings, parsed once and cached until ``PRODKIT`` changes."""
    value, problems = load()
    if problems:  # Only reachable when system checks were skipped or silenced.
        raise ImproperlyConfigured("\n".join(str(problem) for problem in problems))
    return value


@receiver(setting_changed, dispatch_uid="django_prodkit.conf")
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "PRODKIT":
        get.cache_clear()


def _parse_section(
    cls: type[DataclassInstance], path: str, raw: object, problems: list[CheckMessage]
) -> object:
    if not isinstance(raw, Mapping):
        problems.append(_wrong(path, "must be a dict", raw))
        return cls()
    fields = _fields(cls)
    hints = _hints(cls)
    values: dict[str, object] = {}
    for key, value in raw.items():
        key_path = f"{path}[{key!r}]"
        field = fields.get(key) if isinstance(key, str) else None
        if field is None:
            problems.append(_unknown(key_path, key, fields))
            continue
        if dataclasses.is_dataclass(hints[field.name]):
            values[field.name] = _parse_section(
                hints[field.name], key_path, value, problems
            )
            continue
        item_type = _section_items(hints[field.name])
        if item_type is not None:
            if not isinstance(value, list | tuple):
                problems.append(_wrong(key_path, "must be a list of dicts", value))
                continue
            values[field.name] = tuple(
                _parse_section(item_type, f"{key_path}[{index}]", item, problems)
                for index, item in enumerate(value)
            )
            continue
        converted, error = _convert(hints[field.name], value)
        validator = field.metadata.get("validate")
        if error is None and validator is not None:
            error = validator(converted)
        if error is not None:
            problems.append(
                _wrong(
                    key_path, error, value, default=field.default, secret=not field.repr
                )
            )
        else:
            values[field.name] = converted
    return cls(**values)


def _section_items(expected: Any) -> Any:
    """The dataclass of a ``tuple[Section, ...]`` field (a list of dicts), else None."""
    if get_origin(expected) is tuple:
        item_type = get_args(expected)[0]
        if dataclasses.is_dataclass(item_type):
            return item_type
    return None


def _convert(expected: Any, value: object) -> tuple[object, str | None]:
    """Check ``value`` against a field type; lists become tuples."""
    origin = get_origin(expected)
    if origin is dict:
        (key_type, value_type) = get_args(expected)
        described = f"a dict of {_describe(value_type)}"
        if not isinstance(value, Mapping):
            return value, f"must be {described}"
        converted_dict: dict[object, object] = {}
        for key, item in value.items():
            converted, error = _convert(value_type, item)
            if not isinstance(key, key_type) or error is not None:
                return value, f"must be {described}"
            converted_dict[key] = converted
        return converted_dict, None
    if origin is Literal:
        choices = get_args(expected)
        if value in choices and type(value) is type(choices[0]):
            return value, None
        return value, "must be one of " + ", ".join(repr(choice) for choice in choices)
    if origin is types.UnionType:
        for option in get_args(expected):
            converted, error = _convert(option, value)
            if error is None:
                return converted, None
        return value, f"must be {_describe(expected)}"
    if origin is tuple:
        (item_type, _ellipsis) = get_args(expected)
        if not isinstance(value, list | tuple):
            return value, f"must be a list of {item_type.__name__}"
        for item in value:
            if _convert(item_type, item)[1] is not None:
                return value, f"must be a list of {item_type.__name__}"
        return tuple(value), None
    if expected is type(None):
        return value, None if value is None else "must be None"
    if expected is float and type(value) is int:
        return float(value), None
    # bool is an int subclass: an int setting must not accept True.
    if type(value) is expected or (expected is not int and isinstance(value, expected)):
        return value, None
    return value, f"must be {_describe(expected)}"


def _describe(expected: Any) -> str:
    if get_origin(expected) is types.UnionType:
        return " or ".join(_describe(option) for option in get_args(expected))
    if get_origin(expected) is tuple:
        return f"a list of {get_args(expected)[0].__name__}"
    if get_origin(expected) is dict:
        return "a dict"
    if expected is type(None):
        return "None"
    name: str = expected.__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _unknown(path: str, key: object, fields: Mapping[str, object]) -> Error:
    names = sorted(fields)
    close = (
        difflib.get_close_matches(str(key).upper(), names, n=1)
        if isinstance(key, str)
        else []
    )
    hint = (
        f"Did you mean {close[0]!r}?"
        if close
        else "Valid keys: " + ", ".join(names) + "."
    )
    return Error(f"Unknown setting {path}.", hint=hint, id="prodkit.E001")


def _wrong(
    path: str, error: str, value: object, default: object = None, secret: bool = False
) -> Error:
    hint = f"The default is {default!r}." if _is_plain(default) else None
    # A secret (a token, a URL with a password) is never echoed, even when it is invalid.
    shown = "a value" if secret else repr(value)
    return Error(
        f"{path} {error}, got {shown} ({_type_name(value)}).",
        hint=hint,
        id="prodkit.E002",
    )


def _is_plain(value: object) -> bool:
    return (
        value is not None and value is not dataclasses.MISSING and not callable(value)
    )


def _type_name(value: object) -> str:
    return type(value).__name__


@functools.cache
def _fields(cls: type[DataclassInstance]) -> dict[str, dataclasses.Field[Any]]:
    """The user-facing keys of a section: upper-case names of its init fields."""
    return {
        field.name.upper(): field for field in dataclasses.fields(cls) if field.init
    }


@functools.cache
def _hints(cls: type[DataclassInstance]) -> dict[str, Any]:
    return get_type_hints(cls)
