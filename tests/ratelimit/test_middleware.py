"""``RateLimitMiddleware`` through Django's test clients, counting in a real Redis."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest
from django_ratelimit.core import _get_window

from tests.ratelimit.servers import RedisServer, steady

pytestmark = pytest.mark.redis

IP = "198.51.100.1"
OTHER_IP = "198.51.100.2"
ITEM = re.compile(r'"(?P<name>[^"]+)";(?P<params>[^,]+)')


def plan_rate(request: HttpRequest) -> str | None:
    """A ``RATE`` function: plan tiers by user (read from ``request.user``)."""
    user = request.user
    if not user.is_authenticated:
        return "2/m"
    if user.is_staff:
        return None
    return "5/m" if user.first_name == "pro" else "3/m"


def structured(value: str) -> dict[str, dict[str, int]]:
    """``'"a";q=5;w=60, "b";q=1;w=1'`` → ``{"a": {"q": 5, "w": 60}, "b": {...}}``."""
    items = {}
    for match in ITEM.finditer(value):
        params = dict(part.split("=") for part in match["params"].strip().split(";"))
        items[match["name"]] = {key: int(number) for key, number in params.items()}
    return items


def get(client, path: str = "/api/items/", ip: str = IP, **extra: Any):
    return client.get(path, REMOTE_ADDR=ip, **extra)


def assert_refused(response) -> int:
    """The contract's 429, and its ``retry_after``."""
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error", "retry_after"}
    assert body["error"] == "rate_limited"
    retry_after = body["retry_after"]
    assert type(retry_after) is int
    assert response["Retry-After"] == str(retry_after)
    return int(retry_after)


def assert_no_headers(response) -> None:
    for name in (
        "RateLimit-Policy",
        "RateLimit",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ):
        assert not response.has_header(name), name


# The answer -----------------------------------------------------------------------


def test_request_over_the_limit_gets_429_json_and_retry_after(
    client, configure, redis_db, algorithm
):
    configure(
        [{"NAME": "api", "PATH": "/api/", "RATE": "5/m"}],
        algorithm=algorithm,
        location=redis_db,
    )
    steady(algorithm, f"ip:{IP}")
    for _ in range(5):
        response = get(client)
        assert response.status_code == 200
        assert response.json()["ok"] is True
    refused = get(client)
    retry_after = assert_refused(refused)
    if algorithm == "sliding":  # The first of the five leaves the window in ~60 s.
        assert 58 <= retry_after <= 60
    else:  # The end of django-ratelimit's (staggered) window.
        expected = _get_window(f"ip:{IP}", 60) - int(time.time())
        assert abs(retry_after - expected) <= 1
        assert 1 <= retry_after <= 60
    assert refused["Cache-Control"] == "no-store"
    assert_refused(get(client))  # Still refused: the refusal did not reset anything.
    # Another client is not affected.
    assert get(client, ip=OTHER_IP).status_code == 200


def test_ietf_headers_describe_every_matching_rule(
    client, configure, redis_db, algorithm
):
    configure(
        [
            {"NAME": "api", "PATH": "/api/", "RATE": "5/m"},
            {"NAME": "site", "RATE": "100/m"},
        ],
        algorithm=algorithm,
        location=redis_db,
    )
    steady(algorithm, f"ip:{IP}")
    first = get(client)
    assert first.status_code == 200
    assert first["RateLimit-Policy"] == '"api";q=5;w=60, "site";q=100;w=60'
    state = structured(first["RateLimit"])
    assert list(state) == ["api", "site"]
    assert state["api"]["r"] == 4
    assert state["site"]["r"] == 99
    for item in state.values():
        assert 1 <= item["t"] <= 60
        if algorithm == "sliding":
            assert item["t"] == 60
    for name in ("RateLimit-Limit", "X-RateLimit-Limit"):
        assert not first.has_header(name)
    for _ in range(4):
        assert get(client).status_code == 200
    refused = get(client)
    retry_after = assert_refused(refused)
    state = structured(refused["RateLimit"])
    assert state["api"]["r"] == 0
    assert state["api"]["t"] == retry_after
    if algorithm == "sliding":  # Every rule is described, the refusal counted in none.
        assert state["site"]["r"] == 95
    # A path only the site rule matches is described by that rule alone.
    other = get(client, "/pages/")
    assert other["RateLimit-Policy"] == '"site";q=100;w=60'


@pytest.mark.parametrize(
    ("styles", "present", "absent"),
    [
        (["legacy"], ["RateLimit-"], ["X-RateLimit-"]),
        (["x"], ["X-RateLimit-"], ["RateLimit-"]),
        (["legacy", "x"], ["RateLimit-", "X-RateLimit-"], []),
    ],
)
def test_legacy_and_x_headers_describe_the_rule_closest_to_its_limit(
    client, configure, redis_db, styles, present, absent
):
    configure(
        [
            {"NAME": "site", "RATE": "100/m"},
            {"NAME": "api", "PATH": "/api/", "RATE": "3/m"},
        ],
        location=redis_db,
        HEADERS=styles,
    )
    first = get(client)
    assert first.status_code == 200
    assert not first.has_header("RateLimit-Policy")
    assert not first.has_header("RateLimit")
    for prefix in present:
        assert first[f"{prefix}Limit"] == "3"
        assert first[f"{prefix}Remaining"] == "2"
        assert first[f"{prefix}Reset"] == "60"
    for prefix in absent:
        assert not first.has_header(f"{prefix}Limit")
    get(client)
    get(client)
    refused = get(client)
    retry_after = assert_refused(refused)
    for prefix in present:
        assert refused[f"{prefix}Limit"] == "3"
        assert refused[f"{prefix}Remaining"] == "0"
        assert refused[f"{prefix}Reset"] == str(retry_after)


def test_headers_on_success_off_shows_them_on_429_only(client, configure, redis_db):
    configure(
        [{"NAME": "api", "PATH": "/api/", "RATE": "2/m"}],
        location=redis_db,
        HEADERS=["ietf", "legacy", "x"],
        HEADERS_ON_SUCCESS=False,
    )
    for _ in range(2):
        response = get(client)
        assert response.status_code == 200
        assert_no_headers(response)
    refused = get(client)
    assert_refused(refused)
    assert refused["RateLimit-Policy"] == '"api";q=2;w=60'
    assert refused["RateLimit-Remaining"] == "0"
    assert refused["X-RateLimit-Remaining"] == "0"


def test_no_header_style_still_sends_retry_after(client, configure, redis_db):
    configure(
        [{"NAME": "api", "PATH": "/api/", "RATE": "1/m"}],
        location=redis_db,
        HEADERS=[],
    )
    assert_no_headers(get(client))
    refused = get(client)
    assert_refused(refused)
    assert_no_headers(refused)


# Which rules apply ----------------------------------------------------------------


def test_every_matching_rule_must_admit_and_a_refusal_uses_no_quota(
    client, configure, redis_db
):
    configure(
        [
            {"NAME": "site", "RATE": "5/m"},
            {"NAME": "api", "PATH": "/api/", "RATE": "2/m"},
        ],
        location=redis_db,
    )
    assert get(client).status_code == 200
    assert get(client).status_code == 200
    for _ in range(3):  # The tighter rule refuses; the site rule would still admit.
        refused = get(client)
        assert_refused(refused)
        assert structured(refused["RateLimit"])["site"]["r"] == 3
    # The three refusals were counted by neither rule: the site rule has 3 left.
    for _ in range(3):
        assert get(client, "/pages/").status_code == 200
    refused = get(client, "/pages/")
    assert_refused(refused)
    assert refused["RateLimit-Policy"] == '"site";q=5;w=60'


def test_retry_after_comes_from_the_blocking_rule(client, configure, redis_db):
    configure(
        [
            {"NAME": "burst", "PATH": "/api/", "RATE": "1/5s"},
            {"NAME": "hourly", "PATH": "/api/", "RATE": "100/h"},
        ],
        location=redis_db,
    )
    assert get(client).status_code == 200
    assert 1 <= assert_refused(get(client)) <= 5  # Not the hourly rule's 3600.


def test_methods_filter(client, configure, redis_db):
    configure(
        [{"NAME": "writes", "PATH": "/api/", "METHODS": ["post"], "RATE": "1/m"}],
        location=redis_db,
    )
    for _ in range(3):
        response = get(client)
        assert response.status_code == 200
        assert_no_headers(response)  # No rule matched: nothing was counted.
    first = client.post("/api/items/", REMOTE_ADDR=IP)
    assert first.status_code == 200
    assert first["RateLimit-Policy"] == '"writes";q=1;w=60'
    assert_refused(client.post("/api/items/", REMOTE_ADDR=IP))
    assert get(client).status_code == 200


def test_regex_rule(client, configure, redis_db):
    configure(
        [{"NAME": "items", "REGEX": r"^/shop/items/\d+/$", "RATE": "1/m"}],
        location=redis_db,
    )
    assert get(client, "/shop/items/1/").status_code == 200
    assert_refused(get(client, "/shop/items/2/"))  # One rule, one bucket per client.
    unmatched = get(client, "/shop/items/new/")
    assert unmatched.status_code == 200
    assert_no_headers(unmatched)


def commands(server: RedisServer) -> int:
    """Commands the server has run so far, not counting ``INFO`` itself."""
    import redis

    client = redis.Redis(port=server.port)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if name not in ("cmdstat_info", "cmdstat_client|setinfo", "cmdstat_hello")
    )


def test_exempt_defaults_make_no_redis_call(
    client, configure, private_redis, algorithm, settings
):
    configure(
        [{"NAME": "all", "RATE": "1/m"}],
        algorithm=algorithm,
        location=private_redis.url(),
    )
    assert settings.STATIC_URL == "/static/"
    before = commands(private_redis)
    for _ in range(3):  # Over the limit, had they been counted.
        for path in ("/health/live/", "/health/", "/static/app.css"):
            response = get(client, path)
            assert response.status_code == 200, path
            assert_no_headers(response)
    assert commands(private_redis) == before
    # Any other path is counted, in that same Redis.
    assert get(client, "/pages/").status_code == 200
    assert commands(private_redis) > before
    assert_refused(get(client, "/pages/"))


def test_exempt_paths_setting_replaces_the_defaults(client, configure, redis_db):
    configure(
        [{"NAME": "all", "RATE": "1/m"}],
        location=redis_db,
        EXEMPT_PATHS=["/public/"],
    )
    for _ in range(3):
        assert_no_headers(get(client, "/public/page/"))
    assert get(client, "/health/live/").status_code == 200
    assert_refused(get(client, "/health/live/"))  # No longer exempt.


# Keys and rates -------------------------------------------------------------------


@pytest.mark.django_db
def test_rate_function_gives_tiers_by_user(
    client, configure, redis_db, django_user_model
):
    configure(
        [
            {
                "NAME": "api",
                "PATH": "/api/",
                "KEY": "user_or_ip",
                "RATE": "tests.ratelimit.test_middleware.plan_rate",
            }
        ],
        location=redis_db,
    )

    def admitted(user=None) -> int:
        client.logout()
        if user is not None:
            client.force_login(user)
        count = 0
        for _ in range(12):
            response = get(client)
            if response.status_code == 429:
                assert_refused(response)
                break
            assert response.status_code == 200
            count += 1
        return count

    free = django_user_model.objects.create_user("free")
    pro = django_user_model.objects.create_user("pro", first_name="pro")
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    assert admitted() == 2
    assert admitted(free) == 3
    assert admitted(pro) == 5
    assert admitted(staff) == 12
    client.force_login(pro)
    assert structured(get(client)["RateLimit-Policy"]) == {"api": {"q": 5, "w": 60}}
    client.force_login(staff)
    assert_no_headers(get(client))  # Unlimited: not counted at all.


@pytest.mark.django_db
def test_user_key_counts_anonymous_clients_by_address_and_users_across_addresses(
    client, configure, redis_db, django_user_model
):
    configure(
        [{"NAME": "api", "PATH": "/api/", "KEY": "user", "RATE": "2/m"}],
        location=redis_db,
    )
    # Anonymous clients never share one bucket.
    for ip in ("203.0.113.1", "203.0.113.2"):
        assert get(client, ip=ip).status_code == 200
        assert get(client, ip=ip).status_code == 200
        assert_refused(get(client, ip=ip))
    # A logged-in user keeps its bucket wherever it comes from.
    client.force_login(django_user_model.objects.create_user("roaming"))
    assert get(client, ip="203.0.113.3").status_code == 200
    assert get(client, ip="203.0.113.4").status_code == 200
    assert_refused(get(client, ip="203.0.113.5"))
    # And its address's anonymous bucket is a different one.
    client.logout()
    assert get(client, ip="203.0.113.3").status_code == 200


def test_header_key(client, configure, redis_db):
    configure(
        [{"NAME": "api", "PATH": "/api/", "KEY": "header:X-API-Key", "RATE": "2/m"}],
        location=redis_db,
    )
    for key in ("key-a", "key-b"):
        for ip in ("203.0.113.1", "203.0.113.2"):  # The key counts, not the address.
            assert get(client, ip=ip, HTTP_X_API_KEY=key).status_code == 200
        assert_refused(get(client, ip="203.0.113.3", HTTP_X_API_KEY=key))
    # Without the header a client is counted by its address.
    assert get(client, ip="203.0.113.1").status_code == 200
    assert get(client, ip="203.0.113.1").status_code == 200
    assert_refused(get(client, ip="203.0.113.1"))
    assert get(client, ip="203.0.113.2").status_code == 200


@pytest.mark.parametrize(
    ("rate", "presets", "limit", "window"),
    [
        ("strict", {}, 10, 60),
        ("strict", {"strict": "3/m"}, 3, 60),
        ("search", {"search": "2/10s"}, 2, 10),
    ],
)
def test_presets(client, configure, redis_db, rate, presets, limit, window):
    configure(
        [{"NAME": "api", "PATH": "/api/", "RATE": rate}],
        location=redis_db,
        PRESETS=presets,
    )
    for _ in range(limit):
        response = get(client)
        assert response.status_code == 200
    assert response["RateLimit-Policy"] == f'"api";q={limit};w={window}'
    assert 1 <= assert_refused(get(client)) <= window


# ASGI -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_async_path_behaves_the_same(
    async_client, configure, redis_db, django_user_model, algorithm
):
    configure(
        [
            {
                "NAME": "api",
                "PATH": "/api/",
                "KEY": "user",
                "RATE": "tests.ratelimit.test_middleware.plan_rate",
            }
        ],
        algorithm=algorithm,
        location=redis_db,
    )
    pro = django_user_model.objects.create_user("pro", first_name="pro")
    steady(algorithm, "ip:203.0.113.1", "ip:203.0.113.2", f"user:{pro.pk}")

    def aget(ip: str):
        # A scope of its own: ``get()`` would turn a ``client`` argument into a header.
        return async_to_sync(async_client.request)(
            method="GET",
            path="/api/items/",
            query_string="",
            headers=[(b"host", b"testserver")],
            client=[ip, 0],
        )

    for ip in ("203.0.113.1", "203.0.113.2"):  # Anonymous: 2/m each.
        first = aget(ip)
        assert first.status_code == 200
        assert first["RateLimit-Policy"] == '"api";q=2;w=60'
        assert aget(ip).status_code == 200
        assert_refused(aget(ip))
    async_client.force_login(pro)  # Pro: 5/m, one bucket for every address.
    for index in range(5):
        response = aget(f"203.0.113.{10 + index}")
        assert response.status_code == 200
        assert response["RateLimit-Policy"] == '"api";q=5;w=60'
    retry_after = assert_refused(aget("203.0.113.99"))
    assert 1 <= retry_after <= 60


# Sliding windows ------------------------------------------------------------------


def test_sliding_window_frees_a_slot_exactly_when_an_entry_leaves(
    client, configure, redis_db
):
    configure([{"NAME": "api", "PATH": "/api/", "RATE": "5/2s"}], location=redis_db)
    start = time.monotonic()
    assert get(client).status_code == 200
    time.sleep(max(0.0, start + 1.5 - time.monotonic()))
    for _ in range(4):
        assert get(client).status_code == 200
    retry_after = assert_refused(get(client))
    assert retry_after == 1  # The first entry leaves in ~0.5 s.
    time.sleep(max(0.0, start + 1.9 - time.monotonic()))
    assert_refused(get(client))  # Still 5 in the last 2 s.
    time.sleep(max(0.0, start + 2.15 - time.monotonic()))
    assert get(client).status_code == 200  # The first left: one slot, not five.
    assert_refused(get(client))


def admissions(client, count: int) -> list[float]:
    times = []
    for _ in range(count):
        response = get(client)
        assert response.status_code in (200, 429)
        if response.status_code == 200:
            times.append(time.time())
    return times


def most_in_any_span(times: list[float], span: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= span:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_sliding_never_admits_more_than_the_limit_in_any_window_unlike_fixed(
    client, configure, redis_db, algorithm
):
    configure(
        [{"NAME": "api", "PATH": "/api/", "RATE": "5/2s"}],
        algorithm=algorithm,
        location=redis_db,
    )
    # Bursts just before and just after the end of django-ratelimit's window for this key.
    boundary = _get_window(f"ip:{IP}", 2) + 1
    if boundary - time.time() < 0.4:
        boundary += 2
    time.sleep(boundary - 0.3 - time.time())
    times = admissions(client, 8)
    time.sleep(max(0.0, boundary + 0.05 - time.time()))
    times += admissions(client, 8)
    assert time.time() - boundary < 1.5  # Both bursts fit in one 2 s span.
    if algorithm == "sliding":
        assert len(times) == 5
        assert most_in_any_span(times, 2.0) == 5
    else:  # Each fixed window admitted its 5: twice the limit within 2 s.
        assert len(times) == 10
        assert most_in_any_span(times, 2.0) == 10
