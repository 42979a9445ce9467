"""Validators of setting values: each returns None, or what is wrong with the value."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from typing import Any

Validator = Callable[[Any], str | None]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# An HTTP field name is an RFC 9110 token.
TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def validated(default: Any, validator: Validator) -> Any:
    return dataclasses.field(default=default, metadata={"validate": validator})


def header_name(value: str) -> str | None:
    if TOKEN.fullmatch(value):
        return None
    return "must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)"


def header_names(value: tuple[str, ...]) -> str | None:
    bad = [item for item in value if not TOKEN.fullmatch(item)]
    return f"must be HTTP header names; {bad[0]!r} is not" if bad else None


UNSAFE_METHODS = ("DELETE", "PATCH", "POST", "PUT")


def unsafe_methods(value: tuple[str, ...]) -> str | None:
    bad = [item for item in value if item not in UNSAFE_METHODS]
    if bad:
        return "must be a list of " + ", ".join(repr(m) for m in UNSAFE_METHODS)
    return None


def between(low: int, high: int) -> Validator:
    def validate(value: int) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}"

    return validate


def positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def percent(value: int) -> str | None:
    return None if 0 < value <= 100 else "must be a percentage between 1 and 100"


def ratio(value: float) -> str | None:
    return None if 0 < value < 1 else "must be between 0 and 1 (exclusive)"


def optional_positive(value: float | None) -> str | None:
    return None if value is None else positive(value)


def path_prefixes(value: tuple[str, ...]) -> str | None:
    if all(item.startswith("/") for item in value):
        return None
    return "must be URL path prefixes starting with '/'"


def optional_prefixes(value: tuple[str, ...] | None) -> str | None:
    return None if value is None else path_prefixes(value)


def ip_networks(value: tuple[str, ...]) -> str | None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            return f"must be IP addresses or CIDR networks; {item!r} is neither"
    return None


def rate_text(value: str) -> str | None:
    # A rate ("100/m", "5/10s"), a preset name or a dotted path; the ratelimit checks
    # tell which one a value is and whether it resolves.
    return None if value.strip() else "must not be empty"


HEADER_STYLES = ("ietf", "legacy", "x")


def header_styles(value: tuple[str, ...]) -> str | None:
    unknown = [item for item in value if item not in HEADER_STYLES]
    if unknown:
        return "must be a list of " + ", ".join(repr(s) for s in HEADER_STYLES)
    return None


# "N/period": N events within a period of an optional count and a unit, as in "100/10m".
_THRESHOLD = re.compile(
    r"(?P<count>[1-9][0-9]*)/(?P<number>[1-9][0-9]*)?(?P<unit>[smhd])"
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_threshold(value: str) -> tuple[int, int]:
    """``(count, seconds)`` of a threshold such as ``"100/10m"``; ValueError when invalid."""
    match = _THRESHOLD.fullmatch(value.strip())
    if match is None:
        raise ValueError(value)
    seconds = int(match["number"] or 1) * _UNIT_SECONDS[match["unit"]]
    return int(match["count"]), seconds


def optional_threshold(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_threshold(value)
    except ValueError:
        return 'must be a count per period such as "100/h" or "50/10m"'
    return None
