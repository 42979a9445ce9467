"""The limiter's health: degraded while its store's circuit breaker is open."""

from __future__ import annotations

from django_prodkit import rollup
from django_prodkit.exceptions import ServiceUnavailable
from django_prodkit.ratelimit.core import blocked_metric, get_limiter

__all__ = ["blocked_counts", "ratelimit_check"]


def blocked_counts(minutes: int = 1440) -> dict[str, int]:
    """Requests refused per rule over the last ``minutes``, summed over all instances."""
    return {
        rule.name: rollup.total(blocked_metric(rule.name), minutes)
        for rule in get_limiter().rules
    }


def ratelimit_check() -> dict[str, object]:
    """Health check ``ratelimit`` (non-critical): fails while the breaker is open."""
    limiter = get_limiter()
    details: dict[str, object] = {
        "algorithm": limiter.backend.name,
        "cache": limiter.alias,
        "rules": len(limiter.rules),
        "breaker": limiter.breaker.state,
        "blocked_last_hour": blocked_counts(60),
    }
    if limiter.breaker.state != "closed":
        policy = "admitted" if limiter.options.fail == "open" else "refused (503)"
        raise ServiceUnavailable(
            f"rate-limit store unreachable ({limiter.breaker.last_error}); "
            f"requests are {policy} until it answers again",
            details=details,
        )
    return details
