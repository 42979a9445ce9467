"""One instance of a site, for the test of roll-ups that add up across processes.

The process prints ``ready``, waits for a line on stdin, answers ``COUNT`` requests through
Django's handler with ``MetricsMiddleware`` in place, flushes its roll-ups and prints
``{"flushed": bool}`` as JSON. Settings: ``tests.metrics.process_settings``.
"""

from __future__ import annotations

import json
import os
import sys

import django


def main() -> None:
    django.setup()
    from django.test import Client

    from django_prodkit import rollup

    client = Client()
    print("ready", flush=True)
    sys.stdin.readline()
    for pk in range(int(os.environ["PRODKIT_TEST_COUNT"])):
        assert client.get(f"/notes/{pk}/").status_code == 200
    print(json.dumps({"flushed": rollup.flush()}), flush=True)


if __name__ == "__main__":
    main()
