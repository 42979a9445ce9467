"""System checks for ``PRODKIT["SECURITY"]`` and the site's headers: prodkit.W040-W048.

``check_security`` validates the settings on every ``check``; the others are deploy
checks (``check --deploy``, ``prodkit_check``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import django
from csp import constants as csp_constants
from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from django_prodkit import conf
from django_prodkit.conf import SecuritySettings
from django_prodkit.security.csp import nonce_sentinel
from django_prodkit.security.middleware import defers_permissions_policy
from django_prodkit.security.permissions import KNOWN_FEATURES, is_valid_origin

MIDDLEWARE_PATH = "django_prodkit.security.SecurityHeadersMiddleware"
MIDDLEWARE_PATHS = frozenset(
    {MIDDLEWARE_PATH, "django_prodkit.security.middleware.SecurityHeadersMiddleware"}
)
DJANGO_CSP_MIDDLEWARE = "django.middleware.csp.ContentSecurityPolicyMiddleware"
DJANGO_CSP_SETTINGS = ("SECURE_CSP", "SECURE_CSP_REPORT_ONLY")
PACKAGE_CSP_MIDDLEWARE = frozenset(
    {
        "csp.middleware.CSPMiddleware",
        "csp.contrib.rate_limiting.RateLimitedCSPMiddleware",
    }
)
PACKAGE_CSP_SETTINGS = (
    "CONTENT_SECURITY_POLICY",
    "CONTENT_SECURITY_POLICY_REPORT_ONLY",
)
CACHE_MIDDLEWARE = frozenset(
    {
        "django.middleware.cache.UpdateCacheMiddleware",
        "django.middleware.cache.CacheMiddleware",
    }
)
NONCE_CONTEXT_PROCESSORS = frozenset(
    {"django.template.context_processors.csp", "csp.context_processors.nonce"}
)
SECURITY_MIDDLEWARE = "django.middleware.security.SecurityMiddleware"
FRAME_OPTIONS_MIDDLEWARE = "django.middleware.clickjacking.XFrameOptionsMiddleware"

CORP_VALUES = ("same-origin", "same-site", "cross-origin")
COEP_VALUES = ("require-corp", "credentialless", "unsafe-none")
_XSS_PROTECTION = re.compile(r"0|1(\s*;\s*(mode=block|report=[^\s;]+))*")
_FEATURE = re.compile(r"[a-z][a-z0-9-]*")
_SECTION = "PRODKIT['SECURITY']"


def _options() -> SecuritySettings | None:
    """The security settings, or None when they are off or E001/E002 come first."""
    options, problems = conf.load()
    if problems or not options.security.enabled:
        return None
    return options.security


def check_security(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W040 (unknown feature), E041 (bad header value), W042 (deferring)."""
    options = _options()
    if options is None:
        return []
    messages: list[CheckMessage] = []
    policy = options.permissions_policy or {}
    for feature, origins in policy.items():
        key = f"{_SECTION}['PERMISSIONS_POLICY'][{feature!r}]"
        if not _FEATURE.fullmatch(feature):
            messages.append(
                Error(
                    f"{key} is not a Permissions-Policy feature name.",
                    hint="Feature names are lower-case words joined by hyphens, "
                    "such as 'camera' or 'display-capture'.",
                    id="prodkit.E041",
                )
            )
        elif feature not in KNOWN_FEATURES:
            close = difflib.get_close_matches(feature, sorted(KNOWN_FEATURES), n=1)
            messages.append(
                Warning(
                    f"{key}: {feature!r} is not a feature known to prodkit; "
                    "browsers ignore features they do not know.",
                    hint=f"Did you mean {close[0]!r}?"
                    if close
                    else "Check the name against the browsers' lists of features.",
                    id="prodkit.W040",
                )
            )
        for origin in origins:
            if not is_valid_origin(origin):
                messages.append(
                    Error(
                        f"{key} has {origin!r}, which is not an origin.",
                        hint="Use 'self', '*' or origins such as 'https://example.com'; "
                        "an empty list allows the feature nowhere.",
                        id="prodkit.E041",
                    )
                )
    for name, value, valid in (
        (
            "CROSS_ORIGIN_RESOURCE_POLICY",
            options.cross_origin_resource_policy,
            CORP_VALUES,
        ),
        (
            "CROSS_ORIGIN_EMBEDDER_POLICY",
            options.cross_origin_embedder_policy,
            COEP_VALUES,
        ),
    ):
        if value is not None and value not in valid:
            messages.append(
                Error(
                    f"{_SECTION}[{name!r}] is {value!r}, which browsers ignore.",
                    hint="Use one of " + ", ".join(map(repr, valid)) + ", or None.",
                    id="prodkit.E041",
                )
            )
    xss = options.x_xss_protection
    if xss is not None and not _XSS_PROTECTION.fullmatch(xss):
        messages.append(
            Error(
                f"{_SECTION}['X_XSS_PROTECTION'] is {xss!r}, not a valid value.",
                hint="Use '0', which turns the browsers' XSS auditor off, or None.",
                id="prodkit.E041",
            )
        )
    if _set_by_user("PERMISSIONS_POLICY") and defers_permissions_policy():
        messages.append(
            Warning(
                f"{_SECTION}['PERMISSIONS_POLICY'] is set, but django-permissions-policy's "
                "middleware is in MIDDLEWARE: prodkit leaves Permissions-Policy to it.",
                hint="Move the features to the PERMISSIONS_POLICY setting, and set "
                f"{_SECTION}['PERMISSIONS_POLICY'] = None.",
                id="prodkit.W042",
            )
        )
    return messages


def _set_by_user(key: str) -> bool:
    section = getattr(settings, "PRODKIT", {}).get("SECURITY", {})
    return isinstance(section, Mapping) and section.get(key) is not None


def check_security_middleware(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W043 (SecurityHeadersMiddleware missing) and W044 (misplaced)."""
    if _options() is None:
        return []
    middleware = list(settings.MIDDLEWARE)
    positions = _positions(middleware, MIDDLEWARE_PATHS)
    if not positions:
        return [
            Warning(
                f"{_SECTION} is enabled but SecurityHeadersMiddleware is not in MIDDLEWARE.",
                hint=f"Add {MIDDLEWARE_PATH!r} above the CSP middleware, "
                f"or set {_SECTION}['ENABLED'] = False.",
                id="prodkit.W043",
            )
        ]
    if len(positions) > 1:
        return [_misplaced("it is listed more than once.")]
    position = positions[0]
    csp = _positions(middleware, {DJANGO_CSP_MIDDLEWARE, *PACKAGE_CSP_MIDDLEWARE})
    if csp and position > csp[0]:
        return [
            _misplaced(
                f"it is below {middleware[csp[0]]}, so it cannot see the CSP header "
                "and nonce pages are not kept out of shared caches."
            )
        ]
    cache = _positions(middleware, CACHE_MIDDLEWARE)
    if cache and position < cache[0]:
        return [
            _misplaced(
                f"it is above {middleware[cache[0]]}, which then caches pages "
                "before Cache-Control: private is added."
            )
        ]
    return []


def _positions(middleware: list[str], paths: Iterable[str]) -> list[int]:
    wanted = set(paths)
    return [index for index, path in enumerate(middleware) if path in wanted]


def _misplaced(reason: str) -> Warning:
    return Warning(
        f"SecurityHeadersMiddleware is misplaced in MIDDLEWARE: {reason}",
        hint="List it once, below UpdateCacheMiddleware and above the CSP middleware.",
        id="prodkit.W044",
    )


def check_csp(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.W045 (no CSP at all) and W046 (nonce that templates cannot read)."""
    if _options() is None:
        return []
    policies = list(_configured_policies())
    if not policies:
        return [_no_csp()]
    nonce_in = [name for name, directives in policies if _uses_nonce(directives)]
    if nonce_in and not _has_nonce_processor():
        return [
            Warning(
                f"{nonce_in[0]} uses a nonce, but no TEMPLATES backend has a context "
                "processor that gives templates the nonce.",
                hint="Add 'django.template.context_processors.csp' (Django 6) or "
                "'csp.context_processors.nonce' (django-csp) to the context_processors, "
                "or use {% load prodkit %}{% prodkit_nonce %} and silence this check.",
                id="prodkit.W046",
            )
        ]
    return []


def _configured_policies() -> Iterable[tuple[str, Mapping[str, object]]]:
    """``(setting, directives)`` of each policy that a CSP middleware in MIDDLEWARE sends."""
    middleware = set(settings.MIDDLEWARE)
    if DJANGO_CSP_MIDDLEWARE in middleware:
        for name in DJANGO_CSP_SETTINGS:
            value = getattr(settings, name, None)
            if isinstance(value, Mapping) and value:
                yield name, value
    if middleware & PACKAGE_CSP_MIDDLEWARE:
        for name in PACKAGE_CSP_SETTINGS:
            value = getattr(settings, name, None)
            if isinstance(value, Mapping) and value:
                directives = value.get("DIRECTIVES")
                yield name, directives if isinstance(directives, Mapping) else {}


def _no_csp() -> Warning:
    if django.VERSION >= (6, 0):
        hint = (
            f"Add {DJANGO_CSP_MIDDLEWARE!r} to MIDDLEWARE and set SECURE_CSP or "
            "SECURE_CSP_REPORT_ONLY, e.g. to django_prodkit.security.recommended_policy()."
        )
    else:
        hint = (
            "Add 'csp.middleware.CSPMiddleware' (django-csp) to MIDDLEWARE and set "
            "CONTENT_SECURITY_POLICY or CONTENT_SECURITY_POLICY_REPORT_ONLY, e.g. to "
            "django_prodkit.security.recommended_policy()."
        )
    return Warning(
        "No Content-Security-Policy is configured: no CSP middleware in MIDDLEWARE "
        "with a policy to send.",
        hint=hint,
        id="prodkit.W045",
    )


def _uses_nonce(directives: Mapping[str, object]) -> bool:
    sentinels: list[object] = [csp_constants.NONCE]
    if django.VERSION >= (6, 0):
        sentinels.append(nonce_sentinel("django"))
    for values in directives.values():
        items = values if isinstance(values, list | tuple | set) else [values]
        if any(item is s or item == s for item in items for s in sentinels):
            return True
    return False


def _has_nonce_processor() -> bool:
    for backend in settings.TEMPLATES:
        options = backend.get("OPTIONS")
        if not isinstance(options, Mapping):
            continue
        if NONCE_CONTEXT_PROCESSORS.intersection(options.get("context_processors", ())):
            return True
    return False


def check_django_security(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.E047 (Django's security middleware missing) and W048 (weakened)."""
    if _options() is None:
        return []
    middleware = set(settings.MIDDLEWARE)
    messages: list[CheckMessage] = []
    for path, sets in (
        (SECURITY_MIDDLEWARE, "HSTS, X-Content-Type-Options and Referrer-Policy"),
        (FRAME_OPTIONS_MIDDLEWARE, "X-Frame-Options"),
    ):
        if path not in middleware:
            messages.append(
                Error(
                    f"{path} is not in MIDDLEWARE, so no response gets {sets}.",
                    hint=f"Add {path!r} to MIDDLEWARE.",
                    id="prodkit.E047",
                )
            )
    if SECURITY_MIDDLEWARE not in middleware:
        return messages
    for weak, name, advice in (
        (
            not settings.SECURE_CONTENT_TYPE_NOSNIFF,
            "SECURE_CONTENT_TYPE_NOSNIFF",
            "Set it to True (the default) to send X-Content-Type-Options: nosniff.",
        ),
        (
            not settings.SECURE_REFERRER_POLICY,
            "SECURE_REFERRER_POLICY",
            "Set it to 'same-origin' (the default) or 'strict-origin-when-cross-origin'.",
        ),
        (
            not settings.SECURE_HSTS_SECONDS,
            "SECURE_HSTS_SECONDS",
            "Set it to a positive number of seconds, e.g. 3600 at first, then 31536000 "
            "once every subdomain is served over HTTPS.",
        ),
    ):
        if weak:
            messages.append(
                Warning(
                    f"{name} is {getattr(settings, name)!r}, which turns the "
                    "header off.",
                    hint=advice,
                    id="prodkit.W048",
                )
            )
    return messages
