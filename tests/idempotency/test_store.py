"""The store's protocol on each cache: acquire, complete and release by owner only."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from django_prodkit.idempotency.store import (
    CacheStore,
    Done,
    RedisStore,
    Running,
    StoreUnavailable,
    decode,
    encode,
    get_store,
)
from tests.idempotency.conftest import LOCMEM, redis_cache

KEY = "prodkit:idem:test"
FIRST = Running(token="first", fingerprint="f")
SECOND = Running(token="second", fingerprint="f")
DONE = Done(
    fingerprint="f",
    status=201,
    headers=(("Content-Type", "application/json"), ("Location", "/orders/1/")),
    body=b'{"id": 1}\n\x00\xff',
)


@pytest.fixture
def store(configure, store_cache):
    configure(store_cache)
    return get_store()


@pytest.fixture
def lock_ttl(store_cache) -> float:
    """A short lock: milliseconds on Redis, whole seconds elsewhere."""
    return 0.2 if store_cache["BACKEND"] != LOCMEM else 1.0


def test_the_store_matches_the_cache(store, store_cache):
    expected = RedisStore if store_cache["BACKEND"] != LOCMEM else CacheStore
    assert type(store) is expected
    assert store.breaker.name == "cache:idempotency"


def test_acquire_complete_and_read_back(store):
    assert store.acquire(KEY, FIRST, 10) is None
    assert store.get(KEY) == FIRST
    assert store.acquire(KEY, SECOND, 10) == FIRST
    assert store.complete(KEY, FIRST, DONE, 60) is True
    assert store.get(KEY) == DONE
    assert store.acquire(KEY, SECOND, 10) == DONE


def test_only_one_of_many_concurrent_acquires_wins(store):
    contenders = [Running(token=f"t{index}", fingerprint="f") for index in range(20)]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda r: store.acquire(KEY, r, 10), contenders))
    winners = [
        c for c, answer in zip(contenders, answers, strict=True) if answer is None
    ]
    assert len(winners) == 1
    assert all(answer == winners[0] for answer in answers if answer is not None)


def test_release_frees_the_key_for_its_owner_only(store):
    store.acquire(KEY, FIRST, 10)
    assert store.release(KEY, SECOND) is False
    assert store.get(KEY) == FIRST
    assert store.release(KEY, FIRST) is True
    assert store.get(KEY) is None
    assert store.acquire(KEY, SECOND, 10) is None


def test_a_late_owner_cannot_overwrite_or_free_the_new_owners_record(store, lock_ttl):
    assert store.acquire(KEY, FIRST, lock_ttl) is None
    time.sleep(lock_ttl + 0.1)  # The first owner's lock expires while it still runs.
    assert store.acquire(KEY, SECOND, 10) is None
    assert store.complete(KEY, FIRST, DONE, 60) is False
    assert store.release(KEY, FIRST) is False
    assert store.get(KEY) == SECOND
    assert store.complete(KEY, SECOND, DONE, 60) is True
    # Nor a finished record.
    assert store.release(KEY, FIRST) is False
    assert store.complete(KEY, FIRST, DONE, 60) is False
    assert store.get(KEY) == DONE


def test_a_completed_record_expires_after_its_ttl(store):
    store.acquire(KEY, FIRST, 10)
    store.complete(KEY, FIRST, DONE, 1)
    time.sleep(1.1)
    assert store.get(KEY) is None


def test_an_unreadable_record_makes_the_store_unavailable(store, store_cache):
    if store_cache["BACKEND"] == LOCMEM:
        from django.core.cache import caches

        caches["idempotency"].set(KEY, b"not a record", 10)
    else:
        from django_prodkit.redis import get_client

        get_client("idempotency").set(f"{store_cache['KEY_PREFIX']}:1:{KEY}", b"{}")
    with pytest.raises(StoreUnavailable, match="not an idempotency record"):
        store.acquire(KEY, FIRST, 10)
    assert store.breaker.failures == 0  # The cache answered; it is not down.


@pytest.mark.redis
def test_redis_records_are_raw_bytes_under_the_caches_key_prefix(
    configure, redis_db, key_prefix
):
    from django_prodkit.redis import get_client

    configure(redis_cache(redis_db, key_prefix))
    store = get_store()
    store.acquire(KEY, FIRST, 10)
    store.complete(KEY, FIRST, DONE, 60)
    client = get_client("idempotency")
    name = f"{key_prefix}:1:{KEY}"
    assert client.get(name) == encode(DONE)
    assert 59_000 < client.pttl(name) <= 60_000


@pytest.mark.redis
def test_a_key_function_that_hides_the_key_is_refused(configure, redis_db, key_prefix):
    cache = redis_cache(redis_db, key_prefix)
    cache["KEY_FUNCTION"] = "tests.idempotency.test_store.hashed_key"
    configure(cache)
    with pytest.raises(StoreUnavailable, match="KEY_FUNCTION"):
        get_store().acquire(KEY, FIRST, 10)


def hashed_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}:{version}:{hash(key)}"


@pytest.mark.parametrize(
    "record",
    [
        FIRST,
        DONE,
        Done(fingerprint="f", status=204, headers=(), body=None),
        Done(fingerprint="f", status=200, headers=(("X-A", "1\n2"),), body=b""),
    ],
)
def test_records_survive_encoding(record):
    assert decode(encode(record)) == record


@pytest.mark.parametrize(
    "value",
    [b"", b"{}", b'{"state": "gone"}', b'{"state": "done"}', b"[1]\n", "text", 7],
)
def test_anything_else_does_not_decode(value):
    with pytest.raises(ValueError, match="not an idempotency record"):
        decode(value)


def test_the_store_is_rebuilt_when_settings_change(configure, settings):
    configure({"BACKEND": LOCMEM})
    first = get_store()
    assert get_store() is first
    settings.CACHES = {**settings.CACHES}
    assert get_store() is not first
