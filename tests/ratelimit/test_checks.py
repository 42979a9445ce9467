from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit import rollup
from django_prodkit.breaker import get_breaker
from django_prodkit.exceptions import ServiceUnavailable
from django_prodkit.ratelimit.checks import check_ratelimit
from django_prodkit.ratelimit.core import get_limiter
from django_prodkit.ratelimit.health import ratelimit_check
from tests.ratelimit.unit_helpers import redis_cache

LIMITER = "django_prodkit.ratelimit.RateLimitMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
CORS = "corsheaders.middleware.CorsMiddleware"
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
EXPOSED = ["Retry-After", "RateLimit-Policy", "RateLimit", "Idempotent-Replayed"]


def ids() -> list[str]:
    return sorted(str(message.id) for message in check_ratelimit(None))


def ratelimit(settings, **section: object) -> None:
    settings.PRODKIT = {
        "RATELIMIT": {
            "RULES": [{"NAME": "api", "PATH": "/api/", "KEY": "user"}],
            **section,
        }
    }


@pytest.fixture
def clean(settings):
    """A configuration every check is happy with; each test breaks one thing."""
    settings.CACHES = {"default": redis_cache("redis://127.0.0.1:6379/0")}
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LIMITER]
    ratelimit(settings)
    assert ids() == []
    return settings


@pytest.fixture
def cors(clean):
    pytest.importorskip("corsheaders", reason="needs django-cors-headers")
    clean.INSTALLED_APPS = [*clean.INSTALLED_APPS, "corsheaders"]
    clean.MIDDLEWARE = [CORS, *clean.MIDDLEWARE]
    clean.CORS_EXPOSE_HEADERS = EXPOSED
    assert ids() == []
    return clean


def test_disabled_rate_limiting_is_not_checked(clean):
    ratelimit(clean, ENABLED=False, CACHE="missing", RULES=[{"RATE": "lots"}])
    assert ids() == []


def test_e030_bad_rule(clean):
    ratelimit(clean, RULES=[{"NAME": "api", "RATE": "lots"}, {"PATH": "api/"}])
    messages = check_ratelimit(None)
    assert [m.id for m in messages] == ["prodkit.E030"] * 3
    assert "RATE 'lots' is neither a rate" in messages[0].msg
    assert "NAME" in str(messages[0].hint)
    ratelimit(clean, RULES=[{"NAME": "api", "RATE": "100/m"}])
    assert ids() == []


def test_e030_bad_preset(clean):
    ratelimit(clean, PRESETS={"gold": "often"})
    assert ids() == ["prodkit.E030"]


# Django 6.1 runs the model checks against the database (JSONField support).
@pytest.mark.django_db
def test_ratelimit_check_is_registered(clean):
    # Every check runs, Django's cache checks included: a cache the core install has.
    clean.CACHES = {"default": LOCMEM}
    ratelimit(clean, RULES=[{"NAME": "api", "RATE": "lots"}])
    with pytest.raises(SystemCheckError, match=r"prodkit\.E030"):
        call_command("check")


def test_e031_cache_not_in_caches(clean):
    ratelimit(clean, CACHE="ratelimit")
    [message] = check_ratelimit(None)
    assert message.id == "prodkit.E031"
    assert "'ratelimit', which is not in CACHES" in message.msg
    assert message.hint == "Set PRODKIT['RATELIMIT']['CACHE'] to one of: default."
    clean.CACHES = {**clean.CACHES, "ratelimit": redis_cache("redis://localhost/1")}
    clean.RATELIMIT_USE_CACHE = "ratelimit"
    assert ids() == []


def test_e031_ratelimit_use_cache_not_in_caches(clean):
    clean.RATELIMIT_USE_CACHE = "limits"
    assert ids() == ["prodkit.E031"]


def test_e032_sliding_needs_django_redis(clean):
    clean.CACHES = {"default": LOCMEM}
    ratelimit(clean, ALGORITHM="sliding", RULES=[])
    assert ids() == ["prodkit.E032"]
    ratelimit(clean, ALGORITHM="auto", RULES=[])
    assert ids() == []
    clean.CACHES = {"default": redis_cache("redis://localhost/0")}
    ratelimit(clean, ALGORITHM="sliding", RULES=[])
    assert ids() == []


def test_e033_fixed_counts_where_django_ratelimit_counts(clean):
    clean.CACHES = {**clean.CACHES, "limits": redis_cache("redis://localhost/1")}
    ratelimit(clean, ALGORITHM="fixed", CACHE="limits")
    [message] = check_ratelimit(None)
    assert message.id == "prodkit.E033"
    assert "RATELIMIT_USE_CACHE ('default'), not 'limits'" in message.msg
    clean.RATELIMIT_USE_CACHE = "limits"
    assert ids() == []


def test_e033_not_for_sliding(clean):
    clean.CACHES = {**clean.CACHES, "limits": redis_cache("redis://localhost/1")}
    ratelimit(clean, ALGORITHM="sliding", CACHE="limits")
    assert ids() == []


@pytest.mark.parametrize(
    ("backend", "why"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", "keeps counts per process"),
        ("django.core.cache.backends.dummy.DummyCache", "never counts anything"),
        ("django.core.cache.backends.db.DatabaseCache", "does not count atomically"),
    ],
)
def test_w034_cache_not_shared(clean, backend, why):
    clean.CACHES = {"default": {"BACKEND": backend, "LOCATION": "prodkit_cache"}}
    [message] = check_ratelimit(None)
    assert message.id == "prodkit.W034"
    assert why in message.msg
    ratelimit(clean, RULES=[])  # Nothing counted, nothing to warn about.
    assert ids() == []


def test_w035_rules_without_middleware(clean):
    clean.MIDDLEWARE = [path for path in clean.MIDDLEWARE if path != LIMITER]
    assert ids() == ["prodkit.W035"]
    ratelimit(clean, RULES=[])
    assert ids() == []


def test_w035_accepts_the_full_middleware_path(clean):
    clean.MIDDLEWARE = [
        "django_prodkit.ratelimit.middleware.RateLimitMiddleware"
        if path == LIMITER
        else path
        for path in clean.MIDDLEWARE
    ]
    assert ids() == []


def test_w036_middleware_before_authentication_with_user_key(clean):
    others = [path for path in clean.MIDDLEWARE if path != LIMITER]
    clean.MIDDLEWARE = [LIMITER, *others]
    assert ids() == ["prodkit.W036"]
    ratelimit(clean, RULES=[{"NAME": "api", "KEY": "ip"}])
    assert ids() == []
    ratelimit(clean, RULES=[{"NAME": "api", "KEY": "user_or_ip"}])
    assert ids() == ["prodkit.W036"]
    clean.MIDDLEWARE = [*others, LIMITER]
    assert ids() == []


def test_w037_cors_expose_headers(cors):
    cors.CORS_EXPOSE_HEADERS = ["retry-after"]
    [message] = check_ratelimit(None)
    assert message.id == "prodkit.W037"
    assert "RateLimit-Policy, RateLimit, Idempotent-Replayed" in message.msg
    assert "Retry-After" not in message.msg


def test_w037_follows_the_header_styles(cors):
    ratelimit(cors, HEADERS=["x"])
    assert ids() == ["prodkit.W037"]
    cors.CORS_EXPOSE_HEADERS = [
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Idempotent-Replayed",
    ]
    assert ids() == []


def test_w037_not_without_corsheaders(clean):
    clean.CORS_EXPOSE_HEADERS = []
    assert ids() == []


def test_w038_limiter_before_cors_middleware(cors):
    others = [path for path in cors.MIDDLEWARE if path != CORS]
    cors.MIDDLEWARE = [*others, CORS]
    [message] = check_ratelimit(None)
    assert message.id == "prodkit.W038"
    cors.MIDDLEWARE = [CORS, *others]
    assert ids() == []


def test_w039_decorators_behind_proxies(clean):
    clean.INSTALLED_APPS = [*clean.INSTALLED_APPS, "django_ratelimit"]
    assert ids() == []  # No trusted proxies: REMOTE_ADDR is the client.
    clean.PRODKIT = {**clean.PRODKIT, "CLIENT_IP": {"TRUSTED_PROXIES": ["10.0.0.0/8"]}}
    [message] = check_ratelimit(None)
    assert message.id == "prodkit.W039"
    assert "django_prodkit.client_ip.get_client_ip" in str(message.hint)
    clean.RATELIMIT_IP_META_KEY = "django_prodkit.client_ip.get_client_ip"
    assert ids() == []


def test_w039_with_proxy_count(clean):
    clean.INSTALLED_APPS = [*clean.INSTALLED_APPS, "django_ratelimit"]
    clean.PRODKIT = {**clean.PRODKIT, "CLIENT_IP": {"PROXY_COUNT": 1}}
    assert ids() == ["prodkit.W039"]


def test_w039_not_without_django_ratelimit_installed(clean):
    clean.PRODKIT = {**clean.PRODKIT, "CLIENT_IP": {"TRUSTED_PROXIES": ["10.0.0.0/8"]}}
    assert ids() == []


# The ``ratelimit`` health check


@pytest.fixture
def limiter(settings):
    settings.CACHES = {"default": LOCMEM}
    settings.PRODKIT = {
        "RATELIMIT": {"RULES": [{"NAME": "api", "RATE": "1/m"}]},
        "REDIS": {"BREAKER_FAILURES": 2, "BREAKER_SECONDS": 30},
    }
    cache.clear()
    rollup.reset()
    get_breaker("cache:default").reset()
    yield get_limiter()
    get_breaker("cache:default").reset()
    rollup.reset()


def test_health_check_reports_blocked_counts(limiter, rf):
    for _ in range(3):
        limiter.decide(rf.get("/api/"), limiter.rules)
    limiter.decide(rf.get("/api/", REMOTE_ADDR="198.51.100.1"), limiter.rules)
    assert ratelimit_check() == {
        "algorithm": "fixed",
        "cache": "default",
        "rules": 1,
        "breaker": "closed",
        "blocked_last_hour": {"api": 2},
    }


@pytest.mark.parametrize(
    ("fail", "policy"), [("open", "admitted"), ("closed", "refused (503)")]
)
def test_health_check_fails_while_the_breaker_is_open(limiter, settings, fail, policy):
    settings.PRODKIT["RATELIMIT"]["FAIL"] = fail
    settings.PRODKIT = {**settings.PRODKIT}
    limiter = get_limiter()
    limiter.breaker.failure(ConnectionError("refused"))
    assert limiter.breaker.state == "closed"
    limiter.breaker.failure(ConnectionError("refused"))
    with pytest.raises(ServiceUnavailable) as raised:
        ratelimit_check()
    assert "ConnectionError: refused" in raised.value.message
    assert f"requests are {policy}" in raised.value.message
    assert raised.value.details["breaker"] == "open"
    limiter.breaker.success()
    assert ratelimit_check()["breaker"] == "closed"
