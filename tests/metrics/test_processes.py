from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from django_prodkit import metrics, rollup
from tests.metrics.conftest import redis_cache
from tests.processes import run_together

ROOT = Path(__file__).resolve().parents[2]
COUNT = 150
TOKEN = "s3cret-token-for-the-scraper-0123456789"


def run_two_instances(redis_url: str, key_prefix: str) -> list[dict[str, bool]]:
    """Two site processes answer ``COUNT`` requests each, at the same moment."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.metrics.process_settings",
        "PYTHONPATH": str(ROOT),
        "PRODKIT_TEST_REDIS_URL": redis_url,
        "PRODKIT_TEST_KEY_PREFIX": key_prefix,
        "PRODKIT_TEST_COUNT": str(COUNT),
    }
    outputs = run_together("tests.metrics.record_process", environment, timeout=120)
    return [json.loads(output.strip().splitlines()[-1]) for output in outputs]


@pytest.mark.redis
@pytest.mark.django_db
def test_roll_ups_of_two_processes_add_up(client, settings, redis_db, key_prefix):
    results = run_two_instances(redis_db, key_prefix)
    assert results == [{"flushed": True}, {"flushed": True}]

    # This process reads the same Redis: it recorded nothing, it sees both.
    settings.CACHES = {**settings.CACHES, "rollup": redis_cache(redis_db, key_prefix)}
    settings.PRODKIT = {**settings.PRODKIT, "METRICS": {"TOKEN": TOKEN}}
    rollup.reset()
    assert metrics.summary(minutes=10).count == 2 * COUNT
    [route] = metrics.routes(minutes=10)
    assert (route.route, route.count) == ("/notes/<int:pk>/", 2 * COUNT)

    text = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text.content.decode())
        for sample in family.samples
        if sample.labels.get("le") in (None, "+Inf")
    }
    assert found["prodkit_http_requests_total"] == 2 * COUNT
    assert found["prodkit_http_request_duration_seconds_count"] == 2 * COUNT
    assert found["prodkit_http_request_duration_seconds_bucket"] == 2 * COUNT
