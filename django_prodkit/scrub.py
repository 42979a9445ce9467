"""Remove secrets from text and mappings before they are shown, logged or stored.

Used wherever the kit shows what a dependency said (health output, and later error logs,
dead letters and Sentry events): connection errors quote URLs and DSNs, which may carry
passwords.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.conf import settings

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


def is_sensitive_key(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SENSITIVE_KEYS)


def scrub_text(text: str, *secrets: str | None) -> str:
    """``text`` with passwords in URLs, tokens and ``key=value`` secrets masked.

    Any of ``secrets`` (and ``SECRET_KEY``) found verbatim is masked too.
    """
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group("keep") + MASK, text)
    for secret in (*secrets, getattr(settings, "SECRET_KEY", None)):
        if secret and len(secret) >= 4:
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
