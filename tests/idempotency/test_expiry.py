"""Expiry: stored answers after TTL, locks after LOCK_TTL, and owners that come back late."""

from __future__ import annotations

import time

from django.test import Client

from django_prodkit.idempotency.middleware import fingerprint, record_key
from django_prodkit.idempotency.store import Running, get_store
from tests.idempotency import views
from tests.idempotency.conftest import LOCMEM, REPLAYED, assert_error


def test_key_runs_again_after_ttl(store_on, send):
    store_on(TTL=1)
    send.post("/orders/")
    assert send.post("/orders/")[REPLAYED] == "true"
    time.sleep(1.1)
    again = send.post("/orders/")
    assert (again.status_code, again.has_header(REPLAYED)) == (201, False)
    assert views.RUNS["create"] == 2


def test_a_crashed_first_request_holds_the_key_until_lock_ttl(store_on, store_cache):
    """The first request's process died: its lock stays until LOCK_TTL, then a retry runs."""
    redis = store_cache["BACKEND"] != LOCMEM
    lock_ttl = 0.3 if redis else 1.0  # Other caches hold locks for whole seconds.
    store_on(LOCK_TTL=lock_ttl)
    client = Client()
    body = b'{"item": "book"}'
    key = record_key("ip:127.0.0.1", "POST", "/orders/", "key-1")
    crashed = Running(token="crashed", fingerprint=fingerprint("", body))
    assert get_store().acquire(key, crashed, lock_ttl) is None
    headers = {"Idempotency-Key": "key-1"}
    held = client.post(
        "/orders/", body, content_type="application/json", headers=headers
    )
    assert_error(held, 409, "idempotency_key_in_use")
    time.sleep(lock_ttl + 0.1)
    retry = client.post(
        "/orders/", body, content_type="application/json", headers=headers
    )
    assert (retry.status_code, retry.has_header(REPLAYED)) == (201, False)
    assert views.RUNS["create"] == 1
    # The crashed owner cannot overwrite or free what the retry stored.
    assert get_store().release(key, crashed) is False
    replay = client.post(
        "/orders/", body, content_type="application/json", headers=headers
    )
    assert replay.content == retry.content


def test_a_request_that_outlives_its_lock_stores_nothing(
    store_on, store_cache, send, caplog
):
    store_on(LOCK_TTL=0.2)
    # Other caches than Redis hold locks for whole seconds.
    outlive = 0.35 if store_cache["BACKEND"] != LOCMEM else 1.1
    views.HOOK.append(lambda: time.sleep(outlive))
    first = send.post("/hook/")
    views.HOOK.clear()
    assert first.status_code == 201
    assert "ran longer than IDEMPOTENCY.LOCK_TTL" in caplog.text
    assert not send.post("/hook/").has_header(REPLAYED)
    assert views.RUNS["hook"] == 2
