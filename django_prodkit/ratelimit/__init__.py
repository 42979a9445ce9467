"""Rate limiting by rule: ``RateLimitMiddleware``, ad-hoc ``check()``, and the 429 answer."""

from __future__ import annotations

from django_prodkit.ratelimit.core import Decision, check, get_limiter
from django_prodkit.ratelimit.middleware import RateLimitMiddleware
from django_prodkit.ratelimit.rules import PRESETS, parse_rate

__all__ = [
    "PRESETS",
    "Decision",
    "RateLimitMiddleware",
    "check",
    "get_limiter",
    "parse_rate",
]
