"""The limiter: rules and backend for the current settings, and the decision per request."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from django_prodkit import conf, rollup
from django_prodkit import redis as prodkit_redis
from django_prodkit.breaker import CircuitBreaker, get_breaker
from django_prodkit.ratelimit.backends import (
    Backend,
    BackendError,
    FixedBackend,
    Hit,
    SlidingBackend,
    Usage,
)
from django_prodkit.ratelimit.rules import (
    Rule,
    compile_rules,
    exempt_prefixes,
    parse_rate,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["Decision", "Limiter", "check", "get_limiter"]

logger = logging.getLogger("django_prodkit.ratelimit")


class Decision(NamedTuple):
    """The outcome for one request: every matching rule's usage, or a failed backend."""

    usages: tuple[Usage, ...] = ()
    failed: bool = False
    limited: bool = False
    retry_after: int = 0


ADMITTED = Decision()


def blocked_metric(rule: str) -> str:
    return f"ratelimit.blocked.{rule}"


class Limiter:
    """Rules, exempt paths and backend for one settings object."""

    def __init__(self, options: conf.RateLimitSettings) -> None:
        self.options = options
        rules, problems = compile_rules(options)
        if problems:  # Only reachable when system checks were skipped or silenced.
            raise ImproperlyConfigured("\n".join(problems))
        self.rules: tuple[Rule, ...] = rules if options.enabled else ()
        self.exempt = exempt_prefixes(options)
        self.alias = cache_alias(options)
        self.backend: Backend = (
            SlidingBackend(self.alias)
            if algorithm(options) == "sliding"
            else FixedBackend(self.alias)
        )
        self.breaker: CircuitBreaker = get_breaker(f"cache:{self.alias}")
        self.breaker_seconds = conf.get().redis.breaker_seconds

    def matching(self, request: HttpRequest) -> list[Rule]:
        path = request.path_info
        if path.startswith(self.exempt):
            return []
        method = request.method or "GET"
        return [rule for rule in self.rules if rule.matches(path, method)]

    def decide(self, request: HttpRequest, rules: Sequence[Rule]) -> Decision:
        """Count ``request`` against ``rules`` (all must admit it)."""
        hits = []
        for rule in rules:
            rate = rule.rate_for(request)
            key = rule.key(request)
            if rate is None or key is None:
                continue
            hits.append(Hit(rule=rule.name, key=key, limit=rate[0], period=rate[1]))
        return self.count(request, hits)

    def count(self, request: HttpRequest, hits: Sequence[Hit]) -> Decision:
        if not hits:
            return ADMITTED
        if not self.breaker.allow():
            return Decision(failed=True)
        try:
            usages = self.backend.hit(request, hits)
        except BackendError as error:
            self.breaker.failure(error.__cause__ or error)
            logger.debug("rate-limit backend failed: %s", error)
            return Decision(failed=True)
        self.breaker.success()
        blocking = [usage for usage in usages if usage.limited]
        if not blocking:
            return Decision(usages=tuple(usages))
        for usage in blocking:
            rollup.add(blocked_metric(usage.rule))
        return Decision(
            usages=tuple(usages),
            limited=True,
            retry_after=max(usage.reset for usage in blocking),
        )


def cache_alias(options: conf.RateLimitSettings) -> str:
    """``CACHE``, else django-ratelimit's ``RATELIMIT_USE_CACHE``, else ``"default"``."""
    if options.cache is not None:
        return options.cache
    return str(getattr(settings, "RATELIMIT_USE_CACHE", "default"))


def algorithm(options: conf.RateLimitSettings) -> str:
    """``sliding`` or ``fixed``; ``auto`` is sliding on a django-redis cache."""
    if options.algorithm != "auto":
        return options.algorithm
    alias = cache_alias(options)
    return "sliding" if prodkit_redis.is_django_redis(alias) else "fixed"


_current: Limiter | None = None


def get_limiter() -> Limiter:
    """The limiter for the current settings (built once per settings object)."""
    global _current
    options = conf.get().ratelimit
    limiter = _current
    if limiter is None or limiter.options is not options:
        limiter = _current = Limiter(options)
    return limiter


@receiver(setting_changed, dispatch_uid="django_prodkit.ratelimit.core")
def _reset(*, setting: str, **kwargs: object) -> None:
    global _current
    if setting in (
        "PRODKIT",
        "CACHES",
        "RATELIMIT_USE_CACHE",
        "STATIC_URL",
        "MEDIA_URL",
    ):
        _current = None
        _adhoc_rule.cache_clear()


def check(request: HttpRequest, *, name: str, rate: str, key: str = "ip") -> Decision:
    """Count ``request`` against an ad-hoc limit outside the rules (e.g. one view).

    ``rate`` is a rate or preset name; ``key`` as in a rule. Uses the configured backend,
    breaker and ``FAIL`` policy, so callers only look at ``decision.limited``.
    """
    limiter = get_limiter()
    rule = _adhoc_rule(name, rate, key)
    decision = limiter.decide(request, [rule])
    if decision.failed and limiter.options.fail == "closed":
        return decision._replace(
            limited=True, retry_after=int(conf.get().redis.breaker_seconds)
        )
    return decision


@functools.cache
def _adhoc_rule(name: str, rate: str, key: str) -> Rule:
    raw = conf.RuleSettings(name=name, key=key, rate=rate)
    options = conf.get().ratelimit
    rules, problems = compile_rules(dataclasses.replace(options, rules=(raw,)))
    if problems:
        raise ImproperlyConfigured("\n".join(problems))
    return rules[0]


__all__ += ["algorithm", "blocked_metric", "cache_alias", "parse_rate"]
