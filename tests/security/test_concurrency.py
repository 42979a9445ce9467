from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from django_prodkit.security.models import CSPReport

REPORT = json.dumps(
    {
        "csp-report": {
            "effective-directive": "script-src-elem",
            "blocked-uri": "https://cdn.example/a.js",
            "document-uri": "https://shop.example/",
        }
    }
).encode()


# In-memory SQLite gives every live-server thread the test's one shared connection, so
# only PostgreSQL shows real concurrent inserts of the same group.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_reports_of_a_group_count_exactly(live_server):
    threads_count = 16
    barrier = threading.Barrier(threads_count)
    statuses: list[int] = []

    def send() -> None:
        request = urllib.request.Request(
            f"{live_server.url}/csp-report/",
            data=REPORT,
            headers={"Content-Type": "application/csp-report"},
            method="POST",
        )
        barrier.wait()
        with urllib.request.urlopen(request, timeout=10) as response:
            statuses.append(response.status)

    threads = [threading.Thread(target=send) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [204] * threads_count
    report = CSPReport.objects.get()
    assert report.count == threads_count
