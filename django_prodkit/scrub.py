"""Remove secrets from text and mappings before they are shown, logged or stored.

Used wherever the kit shows or stores what a dependency or an error said (health output,
error groups, dead letters and Sentry events): connection errors quote URLs and DSNs, which
may carry passwords, and tracebacks quote whatever the failing code held.

Besides patterns, two lists decide what is masked: keys whose names look sensitive
(``SENSITIVE_KEYS`` plus ``PRODKIT["ERRORS"]["SCRUB_FIELDS"]``), and the values of every
setting that Django's ``SafeExceptionReporterFilter`` hides (``SECRET_KEY``, database
passwords, API keys...), which are masked wherever they appear verbatim.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator, Mapping

from django.conf import settings
from django.core.signals import setting_changed
from django.views.debug import SafeExceptionReporterFilter

from django_prodkit import conf

MASK = "********"

# Lower-case substrings of keys whose values are never shown.
SENSITIVE_KEYS = (
    "api_key",
    "apikey",
    "auth",
    "cookie",
    "credential",
    "csrf",
    "passwd",
    "password",
    "private",
    "secret",
    "session",
    "signature",
    "token",
)

_PATTERNS = (
    # scheme://user:password@host -> scheme://user:********@host
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)", re.I),
    # Authorization: Bearer xyz, Basic xyz, Token xyz
    re.compile(r"(?P<keep>\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]+", re.I),
    # password=xyz, password: xyz, "password": "xyz", DSN-style key=value
    re.compile(
        r"(?P<keep>\b[\w-]*(?:password|passwd|secret|token|api_?key)[\w-]*"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"',;&]+",
        re.I,
    ),
)


# A dotted import path or a bare word: the value of AUTHENTICATION_BACKENDS, PASSWORD_HASHERS
# or AUTH_USER_MODEL, which the settings filter hides by name but which is not a secret.
_NOT_SECRET = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_MIN_SECRET_LENGTH = 6


def is_sensitive_key(key: str) -> bool:
    # Header names spell with hyphens what variables spell with underscores.
    lowered = key.lower().replace("-", "_")
    return any(part in lowered for part in SENSITIVE_KEYS) or any(
        part in lowered for part in _configured_keys()
    )


def _configured_keys() -> tuple[str, ...]:
    return conf.get().errors.scrub_keys


@functools.cache
def setting_secrets() -> tuple[str, ...]:
    """The values of the settings that Django's exception reporter hides, longest first.

    Read once and cached until a setting changes; values shorter than six characters
    and dotted import paths are left out.
    """
    hidden = SafeExceptionReporterFilter.hidden_settings
    found: set[str] = set()
    with warnings.catch_warnings():
        # Reading a deprecated setting (EMAIL_BACKEND on Django 6.1) warns.
        warnings.simplefilter("ignore")
        for name in dir(settings):
            if name.isupper():
                value = getattr(settings, name, None)
                found.update(_secret_values(name, value, hidden))
    return tuple(sorted(found, key=len, reverse=True))


def _secret_values(key: str, value: object, hidden: re.Pattern[str]) -> Iterator[str]:
    if isinstance(value, str):
        if (
            hidden.search(key)
            and len(value) >= _MIN_SECRET_LENGTH
            and not _NOT_SECRET.fullmatch(value)
        ):
            yield value
    elif isinstance(value, Mapping):
        for item_key, item in value.items():
            yield from _secret_values(str(item_key), item, hidden)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_values(key, item, hidden)


def _forget_secrets(**kwargs: object) -> None:
    setting_secrets.cache_clear()


setting_changed.connect(_forget_secrets, dispatch_uid="prodkit.scrub.secrets")


def scrub_text(text: str, *secrets: str | None) -> str:
    """``text`` with passwords in URLs, tokens and ``key=value`` secrets masked.

    Any of ``secrets``, and the value of any setting Django's exception reporter hides
    (``SECRET_KEY`` among them), found verbatim is masked too.
    """
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group("keep") + MASK, text)
    for secret in (*secrets, *setting_secrets()):
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_value(value: object, *secrets: str | None) -> object:
    """Scrub strings, and the values of sensitive keys, inside nested data."""
    if isinstance(value, str):
        return scrub_text(value, *secrets)
    if isinstance(value, Mapping):
        return {
            key: MASK
            if isinstance(key, str) and is_sensitive_key(key)
            else scrub_value(item, *secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_value(item, *secrets) for item in value]
    return value
