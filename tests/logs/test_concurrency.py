"""Request IDs under real concurrent clients against a threaded server."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_see_each_others_ids(live_server):
    def fetch(n: int) -> tuple[str, str, dict[str, str]]:
        sent = f"client-{n}"
        request = urllib.request.Request(
            f"{live_server.url}/held-id/", headers={"X-Request-ID": sent}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return sent, response.headers["X-Request-ID"], json.load(response)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fetch, range(200)))

    assert len(results) == 200
    for sent, header, body in results:
        assert header == sent
        assert body == {"request_id": sent, "before": sent, "after": sent}
