"""The typed settings object: ``PRODKIT = {...}`` merged over documented defaults.

Read settings with ``conf.get()``; it is cached and reset when ``PRODKIT`` changes, so a hot
path pays one function call. The system check and the runtime share one parser, ``parse()``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import ipaddress
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
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def _optional_prefixes(value: tuple[str, ...] | None) -> str | None:
    return None if value is None else _path_prefixes(value)


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


def _networks(value: tuple[str, ...]) -> str | None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            return f"must be IP addresses or CIDR networks; {item!r} is neither"
    return None


def _rate_text(value: str) -> str | None:
    # A rate ("100/m", "5/10s"), a preset name or a dotted path; the ratelimit checks
    # tell which one a value is and whether it resolves.
    return None if value.strip() else "must not be empty"


_HEADER_STYLES = ("ietf", "legacy", "x")


def _header_styles(value: tuple[str, ...]) -> str | None:
    unknown = [item for item in value if item not in _HEADER_STYLES]
    if unknown:
        return "must be a list of " + ", ".join(repr(s) for s in _HEADER_STYLES)
    return None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientIPSettings:
    """``PRODKIT["CLIENT_IP"]``: which peers are trusted proxies."""

    trusted_proxies: tuple[str, ...] = _validated((), _networks)
    proxy_count: int | None = _validated(None, _optional_positive)
    header: str = _validated("X-Forwarded-For", _header_name)
    # Derived once: parsed networks and the META key of the header.
    networks: tuple[IPNetwork, ...] = dataclasses.field(init=False, repr=False)
    header_meta_key: str = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        networks: list[IPNetwork] = []
        for item in self.trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue
        object.__setattr__(self, "networks", tuple(networks))
        key = "HTTP_" + self.header.upper().replace("-", "_")
        object.__setattr__(self, "header_meta_key", key)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RedisSettings:
    """``PRODKIT["REDIS"]``: the circuit breaker in front of every Redis backend."""

    breaker_failures: int = _validated(3, _between(1, 1000))
    breaker_seconds: float = _validated(10.0, _positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RollupSettings:
    """``PRODKIT["ROLLUP"]``: the per-minute counters that every instance adds to."""

    cache: str = "default"
    flush_seconds: float = _validated(5.0, _positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RuleSettings:
    """One entry of ``PRODKIT["RATELIMIT"]["RULES"]``."""

    name: str = ""
    path: str | None = None
    regex: str | None = None
    methods: tuple[str, ...] = ()
    key: str = "ip"
    rate: str = _validated("standard", _rate_text)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitSettings:
    """``PRODKIT["RATELIMIT"]``: rules applied by ``RateLimitMiddleware``."""

    enabled: bool = True
    algorithm: Literal["auto", "fixed", "sliding"] = "auto"
    cache: str | None = None
    rules: tuple[RuleSettings, ...] = ()
    presets: dict[str, str] = dataclasses.field(default_factory=dict)
    exempt_paths: tuple[str, ...] | None = _validated(None, _optional_prefixes)
    fail: Literal["open", "closed"] = "open"
    headers: tuple[str, ...] = _validated(("ietf",), _header_styles)
    headers_on_success: bool = True
    ipv4_prefix: int = _validated(32, _between(8, 32))
    ipv6_prefix: int = _validated(64, _between(16, 128))
    decorator_retry_after: int = _validated(60, _between(1, 86400))


_NONE: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SecuritySettings:
    """``PRODKIT["SECURITY"]``: headers Django does not set, and the CSP report receiver."""

    enabled: bool = True
    permissions_policy: dict[str, tuple[str, ...]] | None = dataclasses.field(
        default_factory=lambda: dict.fromkeys(
            ("camera", "geolocation", "microphone", "payment", "usb"), _NONE
        )
    )
    cross_origin_resource_policy: str | None = "same-origin"
    cross_origin_embedder_policy: str | None = None
    x_xss_protection: str | None = "0"
    reporting_endpoints: bool = True
    private_nonce_responses: bool = True
    csp_report_rate: str = _validated("60/m", _rate_text)
    csp_report_max_bytes: int = _validated(65536, _between(1024, 1048576))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """All of ``PRODKIT``, one attribute per upper-case section."""

    logs: LogsSettings = dataclasses.field(default_factory=LogsSettings)
    health: HealthSettings = dataclasses.field(default_factory=HealthSettings)
    client_ip: ClientIPSettings = dataclasses.field(default_factory=ClientIPSettings)
    redis: RedisSettings = dataclasses.field(default_factory=RedisSettings)
    rollup: RollupSettings = dataclasses.field(default_factory=RollupSettings)
    ratelimit: RateLimitSettings = dataclasses.field(default_factory=RateLimitSettings)
    security: SecuritySettings = dataclasses.field(default_factory=SecuritySettings)


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
