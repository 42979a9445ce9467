from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from django_prodkit import health, rollup
from django_prodkit.metrics.exposition import CONTENT_TYPE
from tests.health.helpers import failing_check, warning_check

TOKEN = "s3cret-token-for-the-scraper-0123456789"
pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings):
    settings.PRODKIT = {**settings.PRODKIT, "METRICS": {"TOKEN": TOKEN}}
    return {"authorization": f"Bearer {TOKEN}"}


def families(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family, name=None):
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for sample in family.samples
        if name is None or sample.name == name
    }


def test_anonymous_callers_get_403_with_the_reason(client, token):
    response = client.get("/metrics")
    assert response.status_code == 403
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"Authorization: Bearer <METRICS.TOKEN>" in response.content


def test_a_wrong_token_gets_403(client, token):
    response = client.get("/metrics", headers={"authorization": "Bearer wrong"})
    assert (response.status_code, response.content) == (
        403,
        b"The bearer token is not valid.\n",
    )


def test_a_token_without_a_configured_token_gets_403(client):
    response = client.get("/metrics", headers={"authorization": "Bearer anything"})
    assert response.status_code == 403


def test_the_token_opens_the_endpoint(client, token):
    response = client.get("/metrics", headers=token)
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Cache-Control"] == "no-store"


def test_staff_users_may_read(client, django_user_model):
    user = django_user_model.objects.create_user("ops", is_staff=True)
    client.force_login(user)
    assert client.get("/metrics").status_code == 200
    user.is_staff = False
    user.save()
    assert client.get("/metrics").status_code == 403


def test_an_allowed_address_may_read(client, settings):
    settings.PRODKIT = {**settings.PRODKIT, "METRICS": {"ALLOWED_IPS": ["10.0.0.0/8"]}}
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="not an address").status_code == 403


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(client, settings):
    settings.PRODKIT = {**settings.PRODKIT, "METRICS": {"ALLOWED_IPS": ["10.0.0.7"]}}
    spoofed = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "10.0.0.7"}
    assert client.get("/metrics", **spoofed).status_code == 403
    settings.PRODKIT = {
        **settings.PRODKIT,
        "CLIENT_IP": {"TRUSTED_PROXIES": ["192.0.2.0/24"]},
    }
    assert client.get("/metrics", **spoofed).status_code == 200


def test_disabled_metrics_answer_404(client, settings, token):
    settings.PRODKIT = {
        **settings.PRODKIT,
        "METRICS": {"ENABLED": False, "TOKEN": TOKEN},
    }
    assert client.get("/metrics", headers=token).status_code == 404


def test_only_get_and_head(client, token):
    assert client.post("/metrics", headers=token).status_code == 405
    head = client.head("/metrics", headers=token)
    assert (head.status_code, head.content) == (200, b"")
    assert head["Content-Type"] == CONTENT_TYPE


def test_exposition_parses_and_the_histogram_adds_up(client, token, store):
    client.raise_request_exception = False
    for pk in range(5):
        client.get(f"/notes/{pk}/")
    client.post("/notes/1/")
    client.get("/boom/")
    client.get("/nowhere/")
    found = families(client.get("/metrics", headers=token).content.decode())

    requests = samples(found["prodkit_http_requests"], "prodkit_http_requests_total")
    assert requests == {
        (("method", "GET"), ("route", "/notes/<int:pk>/"), ("status", "2xx")): 5,
        (("method", "POST"), ("route", "/notes/<int:pk>/"), ("status", "2xx")): 1,
        (("method", "GET"), ("route", "/boom/"), ("status", "5xx")): 1,
        (("method", "GET"), ("route", "<unmatched>"), ("status", "4xx")): 1,
    }
    latency = found["prodkit_http_request_duration_seconds"]
    assert latency.type == "histogram"
    counts = samples(latency, "prodkit_http_request_duration_seconds_count")
    by_route: dict[tuple[tuple[str, str], ...], float] = {}
    for labels, value in requests.items():
        key = tuple(pair for pair in labels if pair[0] != "status")
        by_route[key] = by_route.get(key, 0) + value
    assert counts == by_route
    buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
    for labels, count in counts.items():
        mine = [
            s
            for s in buckets
            if {k: v for k, v in s.labels.items() if k != "le"} == dict(labels)
        ]
        values = [s.value for s in mine]
        assert len(mine) == 12
        assert mine[-1].labels["le"] == "+Inf"
        assert values == sorted(values)  # Cumulative.
        assert values[-1] == count
    sums = samples(latency, "prodkit_http_request_duration_seconds_sum")
    assert set(sums) == set(counts)
    assert all(0 < value < 5 for value in sums.values())


def test_capability_counters_come_from_their_roll_ups(client, token):
    rollup.add("queries.slow.default", 3)
    rollup.add("queries.slow.replica")
    rollup.add("ratelimit.blocked.login", 7)
    rollup.add("errors", 3)
    rollup.add("errors.error", 2)
    rollup.add("errors.critical")
    rollup.add("locking.retries", 4)
    found = families(client.get("/metrics", headers=token).content.decode())

    assert samples(found["prodkit_slow_queries"]) == {
        (("alias", "default"),): 3,
        (("alias", "replica"),): 1,
    }
    assert samples(found["prodkit_ratelimit_blocked"]) == {(("rule", "login"),): 7}
    assert samples(found["prodkit_errors"]) == {
        (("severity", "critical"),): 1,
        (("severity", "error"),): 2,
    }
    assert samples(found["prodkit_locking_retries"]) == {(): 4}
    assert samples(found["prodkit_locking_retries_exhausted"]) == {(): 0}


def test_health_statuses_come_from_the_cached_results(client, token):
    runs = []

    def counted():
        runs.append(1)

    health.register("payments", failing_check, critical=False)
    health.register("queue", warning_check, critical=False)
    health.register("counted", counted, critical=False)
    try:
        first = client.get("/metrics", headers=token).content.decode()
        client.get("/metrics", headers=token)
    finally:
        for name in ("payments", "queue", "counted"):
            health.unregister(name)
    status = samples(families(first)["prodkit_health_check_status"])
    assert status == {
        (("check", "counted"),): 1.0,
        (("check", "payments"),): 0.0,
        (("check", "queue"),): 0.5,
    }
    assert len(families(first)["prodkit_health_check_latency_seconds"].samples) == 3
    assert runs == [1]  # The second scrape reused the cached result.


def test_no_health_families_when_health_is_off(client, token, settings):
    settings.PRODKIT = {
        **settings.PRODKIT,
        "HEALTH": {"ENABLED": False},
    }
    text = client.get("/metrics", headers=token).content.decode()
    assert "prodkit_health_check_status" not in text
