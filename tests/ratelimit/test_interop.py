"""django-ratelimit's own decorators next to the kit: its 429 answer and its client IP."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.ratelimit.servers import with_limiter

PROXY = "10.0.0.7"


@pytest.fixture
def decorated(settings):
    """django-ratelimit's middleware answering with the kit's view, a cache of its own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"interop-{uuid.uuid4().hex}",  # No count left by another test.
        }
    }
    settings.ROOT_URLCONF = "tests.ratelimit.urls"
    settings.RATELIMIT_VIEW = "django_prodkit.ratelimit.views.ratelimited"
    settings.RATELIMIT_IP_META_KEY = "django_prodkit.client_ip.get_client_ip"
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django_ratelimit.middleware.RatelimitMiddleware",
    ]
    settings.PRODKIT = {
        "RATELIMIT": {"DECORATOR_RETRY_AFTER": 42},
        "CLIENT_IP": {"TRUSTED_PROXIES": ["10.0.0.0/8"]},
    }


def call(client, remote_addr: str, forwarded: str | None = None):
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return client.get("/decorated/", REMOTE_ADDR=remote_addr, **extra)


def assert_refused_by_decorator(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"error": "rate_limited", "retry_after": 42}
    assert response["Retry-After"] == "42"


def test_blocked_decorator_answers_with_the_kits_429(client, decorated):
    assert call(client, "203.0.113.1").status_code == 200
    assert call(client, "203.0.113.1").status_code == 200
    assert_refused_by_decorator(call(client, "203.0.113.1"))


def test_clients_behind_a_trusted_proxy_have_their_own_buckets(client, decorated):
    for address in ("198.51.100.1", "198.51.100.2"):
        assert call(client, PROXY, address).status_code == 200
        assert call(client, PROXY, address).status_code == 200
    assert_refused_by_decorator(call(client, PROXY, "198.51.100.1"))
    assert_refused_by_decorator(call(client, PROXY, "198.51.100.2"))
    # The proxy itself is not a client: a third one still gets its quota.
    assert call(client, PROXY, "198.51.100.3").status_code == 200


def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_escape(
    client, decorated
):
    attacker = "203.0.113.66"
    assert call(client, attacker, "198.51.100.10").status_code == 200
    assert call(client, attacker, "198.51.100.11").status_code == 200
    for forged in ("198.51.100.12", "10.0.0.1", f"198.51.100.13, {PROXY}"):
        assert_refused_by_decorator(call(client, attacker, forged))


def test_decorator_and_middleware_answer_alike(client, decorated, settings):
    """A view behind both limits: whichever refuses, the client sees the same body."""
    settings.MIDDLEWARE = with_limiter(list(settings.MIDDLEWARE))
    settings.PRODKIT = {
        **settings.PRODKIT,
        "RATELIMIT": {
            "ALGORITHM": "fixed",
            "DECORATOR_RETRY_AFTER": 42,
            "RULES": [{"NAME": "all", "RATE": "3/m"}],
        },
    }
    assert call(client, "203.0.113.5").status_code == 200
    assert call(client, "203.0.113.5").status_code == 200
    assert_refused_by_decorator(call(client, "203.0.113.5"))  # The decorator's 2/m.
    by_middleware = call(client, "203.0.113.5")  # The rule's 3/m, before the view.
    assert by_middleware.status_code == 429
    body = json.loads(by_middleware.content)
    assert body["error"] == "rate_limited"
    assert by_middleware["Retry-After"] == str(body["retry_after"])
    assert by_middleware["RateLimit-Policy"] == '"all";q=3;w=60'
