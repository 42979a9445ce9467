"""The typed settings object: ``PRODKIT = {...}`` merged over documented defaults.

Read settings with ``conf.get()``; it is cached and reset when ``PRODKIT`` changes, so a hot
path pays one function call. The system check and the runtime share one parser, ``parse()``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin, get_type_hints

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Validator = Callable[[Any], str | None]

# An HTTP field name is an RFC 9110 token.
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def _validated(default: Any, validator: Validator) -> Any:
    return dataclasses.field(default=default, metadata={"validate": validator})


def _header_name(value: str) -> str | None:
    if _TOKEN.fullmatch(value):
        return None
    return "must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)"


def _between(low: int, high: int) -> Validator:
    def validate(value: int) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}"

    return validate


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _percent(value: int) -> str | None:
    return None if 0 < value <= 100 else "must be a percentage between 1 and 100"


def _optional_positive(value: float | None) -> str | None:
    return None if value is None else _positive(value)


def _path_prefixes(value: tuple[str, ...]) -> str | None:
    if all(item.startswith("/") for item in value):
        return None
    return "must be URL path prefixes starting with '/'"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogsSettings:
    """``PRODKIT["LOGS"]``: request IDs and the request-finished log line."""

    enabled: bool = True
    request_id_header: str = _validated("X-Request-ID", _header_name)
    trust_request_id: bool = True
    request_id_max_length: int = _validated(128, _between(8, 1024))
    request_log: bool = True
    request_log_skip: tuple[str, ...] = _validated((), _path_prefixes)
    # Derived once per settings object so the middleware does no string work per request.
    request_id_meta_key: str = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = "HTTP_" + self.request_id_header.upper().replace("-", "_")
        object.__setattr__(self, "request_id_meta_key", key)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseCheckSettings:
    """``PRODKIT["HEALTH"]["DATABASE"]``: a ``SELECT 1`` per database alias."""

    enabled: bool = True
    critical: bool = True
    timeout: float | None = _validated(None, _optional_positive)
    aliases: tuple[str, ...] | None = None
    warn_ms: float = _validated(200.0, _positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CacheCheckSettings:
    """``PRODKIT["HEALTH"]["CACHE"]``: a set/get/delete round trip per cache alias."""

    enabled: bool = True
    critical: bool = True
    timeout: float | None = _validated(None, _optional_positive)
    aliases: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RedisCheckSettings:
    """``PRODKIT["HEALTH"]["REDIS"]``: ``INFO`` of each django-redis cache's server."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = _validated(None, _optional_positive)
    aliases: tuple[str, ...] | None = None
    memory_warn_percent: int = _validated(90, _percent)
    warn_on_evictions: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MigrationsCheckSettings:
    """``PRODKIT["HEALTH"]["MIGRATIONS"]``: unapplied migrations per database."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = _validated(None, _optional_positive)
    databases: tuple[str, ...] = ("default",)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DiskCheckSettings:
    """``PRODKIT["HEALTH"]["DISK"]``: used space on each path."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = _validated(None, _optional_positive)
    paths: tuple[str, ...] = ("/",)
    warn_percent: int = _validated(90, _percent)
    fail_percent: int = _validated(95, _percent)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemoryCheckSettings:
    """``PRODKIT["HEALTH"]["MEMORY"]``: the resident memory of this process."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = _validated(None, _optional_positive)
    warn_mb: int | None = _validated(None, _optional_positive)
    fail_mb: int | None = _validated(None, _optional_positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BrokerCheckSettings:
    """``PRODKIT["HEALTH"]["BROKER"]``: a connection to the Celery broker."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = _validated(None, _optional_positive)
    url: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HealthSettings:
    """``PRODKIT["HEALTH"]``: the health endpoints, their checks and their history."""

    enabled: bool = True
    token: str | None = dataclasses.field(default=None, repr=False)
    timeout: float = _validated(2.0, _positive)
    cache_seconds: float = _validated(5.0, _not_negative)
    checks: tuple[str, ...] = ()
    history_days: int = _validated(30, _between(1, 3650))
    database: DatabaseCheckSettings = dataclasses.field(
        default_factory=DatabaseCheckSettings
    )
    cache: CacheCheckSettings = dataclasses.field(default_factory=CacheCheckSettings)
    redis: RedisCheckSettings = dataclasses.field(default_factory=RedisCheckSettings)
    migrations: MigrationsCheckSettings = dataclasses.field(
        default_factory=MigrationsCheckSettings
    )
    disk: DiskCheckSettings = dataclasses.field(default_factory=DiskCheckSettings)
    memory: MemoryCheckSettings = dataclasses.field(default_factory=MemoryCheckSettings)
    broker: BrokerCheckSettings = dataclasses.field(default_factory=BrokerCheckSettings)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """All of ``PRODKIT``, one attribute per upper-case section."""

    logs: LogsSettings = dataclasses.field(default_factory=LogsSettings)
    health: HealthSettings = dataclasses.field(default_factory=HealthSettings)


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


def _convert(expected: Any, value: object) -> tuple[object, str | None]:
    """Check ``value`` against a field type; lists become tuples."""
    origin = get_origin(expected)
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
