"""A real prefork worker in its own process: the child's writer, and its flush when the
worker process stops (a prefork child leaves through ``os._exit()``, skipping atexit)."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from django_prodkit.logs.context import current_request_id
from tests.processes import ROOT
from tests.services import BROKER_URL

celery = pytest.importorskip("celery")

pytestmark = pytest.mark.celery


def rows(database: Path) -> list[tuple[str, str, str]]:
    # sqlite3's own context manager commits but does not close.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute(
            "SELECT task_id, message, request_id FROM prodkit_deadletter ORDER BY id"
        ).fetchall()


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_prefork_child_stores_its_dead_letters_and_flushes_when_it_stops(tmp_path):
    database = tmp_path / "jobs.sqlite3"
    queue = f"prodkit-prefork-{uuid.uuid4().hex[:8]}"
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.jobs.worker_settings",
        "PRODKIT_TEST_DATABASE": json.dumps(
            {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}
        ),
        "PRODKIT_TEST_BROKER_URL": BROKER_URL,
        "PRODKIT_TEST_QUEUE": queue,
    }
    module = "tests.jobs.worker_process"
    subprocess.run(
        [sys.executable, "-m", module, "migrate"],
        env=environment,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", module, "worker"),
                *("--pool=prefork", "--concurrency=1", "--loglevel=INFO"),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
                *("-n", f"{queue}@%h"),
            ],
            env=environment,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        sender = celery.Celery("prodkit-prefork-sender", broker=BROKER_URL)
        sender.conf.task_default_queue = queue
        token = current_request_id.set("req-prefork")
        try:
            first = sender.send_task("tests.jobs.worker.fails", args=(1,))
            wait_for(lambda: len(rows(database)) == 1, "the first dead letter")
            # The writer now pauses 300 s: the second one waits in the child's memory.
            second = sender.send_task("tests.jobs.worker.fails", args=(2,))
        finally:
            current_request_id.reset(token)
        wait_for(lambda: second.id in log.read_text(), "the second failure")
        time.sleep(0.5)
        assert len(rows(database)) == 1
        worker.send_signal(signal.SIGTERM)  # A warm shutdown.
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert rows(database) == [
        (first.id, "failure 1", "req-prefork"),
        (second.id, "failure 2", "req-prefork"),
    ]
