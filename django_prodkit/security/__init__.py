"""Security headers Django does not set, CSP nonces and policies, the CSP report receiver."""

from __future__ import annotations

from django_prodkit.security.csp import (
    BASELINE_POLICY,
    REPORT_ONLY_POLICY,
    STRICT_POLICY,
    get_nonce,
    recommended_policy,
)
from django_prodkit.security.middleware import SecurityHeadersMiddleware

__all__ = [
    "BASELINE_POLICY",
    "REPORT_ONLY_POLICY",
    "STRICT_POLICY",
    "SecurityHeadersMiddleware",
    "get_nonce",
    "recommended_policy",
]
