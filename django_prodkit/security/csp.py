"""The CSP nonce of a request, and recommended policies for Django 6 and django-csp 4.

Django 6.0 has CSP built in (``SECURE_CSP``, ``django.middleware.csp``); on 5.2 the same
job is done by django-csp 4 (``CONTENT_SECURITY_POLICY``, ``csp.middleware``). The two
differ in where the nonce lives and in the sentinel that stands for it in a policy; this
module hides both differences.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Literal

import django
from csp import constants as csp_constants
from csp.exceptions import CSPNonceError
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

__all__ = [
    "BASELINE_POLICY",
    "REPORT_ONLY_POLICY",
    "REPORT_TO_GROUP",
    "STRICT_POLICY",
    "Backend",
    "get_nonce",
    "recommended_policy",
]

Backend = Literal["django", "django-csp"]
Policy = dict[str, list[object]]

# The endpoint name of the Reporting-Endpoints header sent by SecurityHeadersMiddleware.
REPORT_TO_GROUP = "csp-endpoint"

DEFAULT_BACKEND: Backend = "django" if django.VERSION >= (6, 0) else "django-csp"

_django_get_nonce: Callable[[HttpRequest], object] | None
try:
    from django.middleware.csp import get_nonce as _django_get_nonce  # Django 6.0+
except ImportError:
    _django_get_nonce = None

NONE = "'none'"
SELF = "'self'"
STRICT_DYNAMIC = "'strict-dynamic'"
REPORT_SAMPLE = "'report-sample'"


def nonce_sentinel(backend: Backend = DEFAULT_BACKEND) -> object:
    """What stands for the nonce in a policy: ``CSP.NONCE`` or ``csp.constants.NONCE``."""
    if backend == "django":
        if django.VERSION < (6, 0):
            raise ImproperlyConfigured(
                "Django's own CSP needs Django 6.0 or later; use django-csp on "
                f"Django {django.get_version()} (backend='django-csp')."
            )
        from django.utils.csp import CSP

        return CSP.NONCE
    return csp_constants.NONCE


def get_nonce(request: HttpRequest) -> str | None:
    """This request's CSP nonce, generated on first use; ``None`` without a nonce.

    Works with django-csp's ``CSPMiddleware`` (``request.csp_nonce``) and with Django 6's
    ``ContentSecurityPolicyMiddleware``. Reading the nonce is what puts it in the header,
    so call this only where the nonce is used. After django-csp has written the header
    a nonce that was never read cannot be added any more: the answer is then ``None``.
    """
    nonce: object = getattr(request, "csp_nonce", None)  # django-csp
    if nonce is None and _django_get_nonce is not None:
        nonce = _django_get_nonce(request)  # Django 6: a LazyNonce
    if nonce is None:
        return None
    try:
        return str(nonce) or None
    except CSPNonceError:
        return None


def _strict(nonce: object) -> Policy:
    # Google's strict CSP (https://csp.withgoogle.com/docs/strict-csp.html): scripts run
    # only with this response's nonce, and scripts they load are trusted in turn.
    return {
        "script-src": [nonce, STRICT_DYNAMIC],
        "object-src": [NONE],
        "base-uri": [NONE],
    }


def _baseline(nonce: object) -> Policy:
    # Same-origin resources only, plus inline scripts that carry the nonce: what an
    # existing Django site, the admin included, can enforce without changes.
    return {
        "default-src": [SELF],
        "script-src": [SELF, nonce],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [SELF],
        "form-action": [SELF],
    }


def _with_sample(policy: Policy) -> Policy:
    # 'report-sample' puts the first 40 characters of a blocked inline script in the
    # report, which is how you find it during a report-only rollout.
    sampled = copy.deepcopy(policy)
    sampled["script-src"].append(REPORT_SAMPLE)
    return sampled


STRICT_POLICY: Policy = _strict(nonce_sentinel())
REPORT_ONLY_POLICY: Policy = _with_sample(STRICT_POLICY)
BASELINE_POLICY: Policy = _baseline(nonce_sentinel())


def recommended_policy(
    strict: bool = True,
    *,
    report_only: bool = False,
    report_uri: str | None = None,
    report_to: str | None = REPORT_TO_GROUP,
    backend: Backend | None = None,
) -> dict[str, object]:
    """A recommended policy, shaped for ``backend``'s setting.

    Args:
        strict: the strict nonce policy (``STRICT_POLICY``); ``False`` gives the
            same-origin ``BASELINE_POLICY``, which needs no template changes.
        report_only: add ``'report-sample'`` to ``script-src``, for
            ``SECURE_CSP_REPORT_ONLY`` or ``CONTENT_SECURITY_POLICY_REPORT_ONLY``.
        report_uri: the ``report-uri`` URL, e.g. ``"/csp-report/"``.
        report_to: the ``report-to`` endpoint name; the default matches the
            ``Reporting-Endpoints`` header sent by ``SecurityHeadersMiddleware``.
        backend: ``"django"`` returns the directives dict for ``SECURE_CSP``;
            ``"django-csp"`` returns ``{"DIRECTIVES": {...}}`` for
            ``CONTENT_SECURITY_POLICY``. The default is Django's on 6.0 and later.
    """
    backend = backend or DEFAULT_BACKEND
    nonce = nonce_sentinel(backend)
    policy = _strict(nonce) if strict else _baseline(nonce)
    if report_only:
        policy = _with_sample(policy)
    directives: dict[str, object] = dict(policy)
    if report_uri:
        directives["report-uri"] = [report_uri]
    if report_to:
        directives["report-to"] = report_to
    if backend == "django":
        return directives
    if "default-src" not in directives:
        # django-csp adds default-src 'self' to a policy that has none; Django does not.
        directives["default-src"] = None
    return {"DIRECTIVES": directives}
