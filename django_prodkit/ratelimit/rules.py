"""Rules: which requests a limit applies to, what it counts by, and how many it admits.

``compile_rules()`` turns ``PRODKIT["RATELIMIT"]`` into ``Rule`` objects once per settings
object, and reports every problem it finds; the system check shows those problems at start-up
and the middleware refuses to start with them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.module_loading import import_string

from django_prodkit import conf
from django_prodkit.client_ip import get_client_ip, ip_group
from django_prodkit.conf.validators import TOKEN

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["PRESETS", "Rule", "compile_rules", "parse_rate"]

PRESETS: dict[str, str] = {
    "strict": "10/m",
    "standard": "100/m",
    "lenient": "500/m",
    "webhook": "1000/m",
}

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*", re.IGNORECASE)

KeyFunction = Callable[["HttpRequest"], "str | None"]
RateValue = tuple[int, int]
RateFunction = Callable[["HttpRequest"], "str | RateValue | None"]
USER_ATTRIBUTE = "_prodkit_user"


def parse_rate(text: str) -> RateValue:
    """``"100/m"`` → ``(100, 60)``; ``"5/10s"`` → ``(5, 10)``. Raises ``ValueError``."""
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a rate: write COUNT/PERIOD such as '100/m' or '5/10s'"
        )
    count, multiplier, unit = match.groups()
    seconds = _PERIODS[unit.lower()] * (int(multiplier) if multiplier else 1)
    if seconds <= 0:
        raise ValueError(f"{text!r} has a period of zero seconds")
    return int(count), seconds


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule. ``rate`` is fixed, or a function of the request (plan tiers)."""

    name: str
    prefix: str | None
    pattern: re.Pattern[str] | None
    methods: frozenset[str]
    key_name: str
    key: KeyFunction
    rate: RateValue | RateFunction
    # Deciding may read request.user: a user key, or a KEY or RATE function.
    needs_user: bool

    def matches(self, path: str, method: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.prefix is not None and not path.startswith(self.prefix):
            return False
        return self.pattern is None or self.pattern.search(path) is not None

    def rate_for(self, request: HttpRequest) -> RateValue | None:
        """The ``(limit, seconds)`` that applies to this request, or None for no limit."""
        if isinstance(self.rate, tuple):
            return self.rate
        value = self.rate(request)
        if value is None or isinstance(value, tuple):
            return value
        return _resolve_rate(value, _presets())


def compile_rules(
    options: conf.RateLimitSettings,
) -> tuple[tuple[Rule, ...], list[str]]:
    """The rules of ``options`` and a message for each one that cannot be used."""
    presets = {**PRESETS, **options.presets}
    problems: list[str] = []
    for name, text in options.presets.items():
        try:
            parse_rate(text)
        except ValueError as error:
            problems.append(f"PRODKIT['RATELIMIT']['PRESETS'][{name!r}]: {error}.")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(options.rules):
        where = f"PRODKIT['RATELIMIT']['RULES'][{index}]"
        rule, errors = _compile(raw, presets, where, options)
        if raw.name in seen:
            errors.append(f"{where}: the name {raw.name!r} is used by an earlier rule.")
        seen.add(raw.name)
        problems += errors
        if rule is not None and not errors:
            rules.append(rule)
    return tuple(rules), problems


def exempt_prefixes(options: conf.RateLimitSettings) -> tuple[str, ...]:
    """``EXEMPT_PATHS``, or by default the health endpoints, static and media files."""
    if options.exempt_paths is not None:
        return options.exempt_paths
    prefixes = []
    with contextlib.suppress(NoReverseMatch):
        prefixes.append(reverse("prodkit:health"))
    for url in (getattr(settings, "STATIC_URL", None), settings.MEDIA_URL):
        if url and str(url).startswith("/") and str(url) != "/":
            prefixes.append(str(url))
    # reverse() and relative STATIC_URL/MEDIA_URL carry SCRIPT_NAME; path_info does not.
    script = get_script_prefix()
    return tuple(
        "/" + prefix.removeprefix(script) if prefix.startswith(script) else prefix
        for prefix in prefixes
    )


def _compile(
    raw: conf.RuleSettings,
    presets: dict[str, str],
    where: str,
    options: conf.RateLimitSettings,
) -> tuple[Rule | None, list[str]]:
    errors: list[str] = []
    if not raw.name:
        errors.append(f"{where} has no NAME.")
    elif not re.fullmatch(r"[\w.-]{1,64}", raw.name):
        errors.append(
            f"{where}: NAME {raw.name!r} must be 1-64 letters, digits, '_', '.' or '-'."
        )
    if raw.path is not None and not raw.path.startswith("/"):
        errors.append(f"{where}: PATH {raw.path!r} must start with '/'.")
    pattern = None
    if raw.regex is not None:
        try:
            pattern = re.compile(raw.regex)
        except re.error as regex_error:
            errors.append(
                f"{where}: REGEX {raw.regex!r} does not compile: {regex_error}."
            )
    methods = frozenset(method.upper() for method in raw.methods)
    key, needs_user, key_error = _key_function(raw.key, options)
    if key_error:
        errors.append(f"{where}: {key_error}")
    rate: RateValue | RateFunction | None = None
    try:
        rate = _resolve_rate(raw.rate, presets)
    except ValueError as rate_error:
        if "." in raw.rate and "/" not in raw.rate:
            try:
                rate = import_string(raw.rate)
            except ImportError as import_error:
                errors.append(
                    f"{where}: RATE {raw.rate!r} does not import: {import_error}."
                )
            else:
                if not callable(rate):
                    errors.append(f"{where}: RATE {raw.rate!r} is not callable.")
        else:
            errors.append(
                f"{where}: RATE {raw.rate!r} is neither a rate like '100/m', a preset "
                f"({', '.join(sorted(presets))}) nor a dotted path: {rate_error}."
            )
    if errors or key is None or rate is None:
        return None, errors
    return (
        Rule(
            name=raw.name,
            prefix=raw.path,
            pattern=pattern,
            methods=methods,
            key_name=raw.key,
            key=key,
            rate=rate,
            # A RATE or KEY function may read request.user too.
            needs_user=needs_user or callable(rate) or "." in raw.key,
        ),
        errors,
    )


def _resolve_rate(text: str, presets: dict[str, str]) -> RateValue:
    return parse_rate(presets.get(text, text))


def _presets() -> dict[str, str]:
    return {**PRESETS, **conf.get().ratelimit.presets}


def _key_function(
    name: str, options: conf.RateLimitSettings
) -> tuple[KeyFunction | None, bool, str | None]:
    """The key function for ``KEY``, whether it reads the user, and an error."""
    v4, v6 = options.ipv4_prefix, options.ipv6_prefix

    def ip(request: HttpRequest) -> str:
        return "ip:" + ip_group(get_client_ip(request), v4, v6)

    def user_or_ip(request: HttpRequest) -> str:
        # An anonymous user is counted by address, never in one bucket shared by all.
        user = getattr(request, USER_ATTRIBUTE, None) or getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return ip(request)

    if name == "ip":
        return ip, False, None
    if name in ("user", "user_or_ip"):
        return user_or_ip, True, None
    if name.startswith("header:"):
        header = name.removeprefix("header:")
        if not TOKEN.fullmatch(header):
            return None, False, f"KEY {name!r} does not name an HTTP header."
        meta_key = "HTTP_" + header.upper().replace("-", "_")

        def by_header(request: HttpRequest) -> str:
            value = request.META.get(meta_key, "").strip()
            # A request without the header is counted by address, not in a shared bucket.
            return f"header:{value}" if value else ip(request)

        return by_header, False, None
    if "." in name:
        try:
            function: Any = import_string(name)
        except ImportError as error:
            return None, False, f"KEY {name!r} does not import: {error}."
        if not callable(function):
            return None, False, f"KEY {name!r} is not callable."

        def custom(request: HttpRequest) -> str | None:
            value = function(request)
            return None if value is None else f"custom:{value}"

        return custom, False, None
    return (
        None,
        False,
        f"KEY {name!r} must be 'ip', 'user', 'user_or_ip', 'header:NAME' or a dotted "
        "path to a function of the request.",
    )
