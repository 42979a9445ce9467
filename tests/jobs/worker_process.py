"""A Celery app for a real prefork worker, started by ``test_prefork``.

``python -m tests.jobs.worker_process migrate`` creates the tables; ``celery -A
tests.jobs.worker_process worker`` runs the worker on ``PRODKIT_TEST_QUEUE``.
"""

from __future__ import annotations

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.jobs.worker_settings")
django.setup()

from celery import Celery  # noqa: E402

app = Celery("prodkit-job-worker")
app.conf.update(
    broker_url=os.environ["PRODKIT_TEST_BROKER_URL"],
    task_default_queue=os.environ["PRODKIT_TEST_QUEUE"],
    task_ignore_result=True,
)


@app.task(name="tests.jobs.worker.fails")  # type: ignore[untyped-decorator]
def fails(number: int) -> None:
    raise ValueError(f"failure {number}")


if __name__ == "__main__" and sys.argv[1:] == ["migrate"]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False, skip_checks=True)
