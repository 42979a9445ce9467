from __future__ import annotations

import contextlib
import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection, connections
from django.db.backends.signals import connection_created

from django_prodkit.health import run_checks
from tests.dead_services import closed_port
from tests.health.helpers import ONLY_CUSTOM
from tests.health.proxy import Proxy
from tests.services import REDIS_URL

TOKEN = "a-token-for-the-builtin-tests-0123"
TRUSTED = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def only(**sections):
    """PRODKIT with only the named built-ins on, configured by ``sections``."""
    health = {**ONLY_CUSTOM, "CACHE_SECONDS": 0, "TOKEN": TOKEN}
    for key, options in sections.items():
        health[key.upper()] = {"ENABLED": True, **options}
    return {"HEALTH": health}


@pytest.fixture
def database(django_db_setup, django_db_blocker):
    """``database(**overrides)``: a new alias on the test database.

    Django's test cases refuse connections from other threads to aliases they do not
    declare, and these aliases are made up per test: so the database is unblocked here
    without a test case (these tests write nothing).
    """
    aliases = []

    def add(**overrides):
        alias = f"extra_{uuid.uuid4().hex[:8]}"
        connections.settings[alias] = {**connection.settings_dict, **overrides}
        aliases.append(alias)
        return alias

    with django_db_blocker.unblock():
        yield add
    for alias in aliases:
        del connections.settings[alias]


@pytest.fixture
def proxied(settings, database):
    """A persistent-connection alias that reaches PostgreSQL through a ``Proxy``."""
    proxy = Proxy(
        (
            connection.settings_dict["HOST"],
            int(connection.settings_dict["PORT"] or 5432),
        )
    )
    proxy.start()
    alias = database(HOST="127.0.0.1", PORT=proxy.port, CONN_MAX_AGE=600)
    settings.PRODKIT = only(database={"ALIASES": [alias]})
    yield proxy, alias
    proxy.stop()  # Also ends the server sessions the check threads kept.


def results(client, url="/health/"):
    response = client.get(url, **TRUSTED)
    return response.status_code, json.loads(response.content)


# Database -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_check_round_trips_every_alias(client, settings):
    settings.PRODKIT = only(database={})
    status, body = results(client)
    assert status == 200
    check = body["checks"]["database:default"]
    assert check["status"] == "ok"
    assert check["critical"] is True
    assert check["details"]["vendor"] == connection.vendor


@pytest.mark.django_db(transaction=True)
def test_database_check_warns_above_the_latency_threshold(client, settings):
    settings.PRODKIT = only(database={"WARN_MS": 0.000001})
    status, body = results(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["database:default"]["status"] == "warn"
    assert "over 1e-06 ms" in body["checks"]["database:default"]["message"]


def test_dead_database_is_503_on_ready_and_full_and_200_on_live(
    client, settings, database
):
    if connection.vendor == "postgresql":
        dead = database(HOST="127.0.0.1", PORT=closed_port())
    else:
        dead = database(NAME="/nonexistent-dir/prodkit/db.sqlite3")
    settings.PRODKIT = only(database={"ALIASES": ["default", dead]})
    for url in ("/health/ready/", "/health/"):
        status, body = results(client, url)
        assert status == 503
        assert body["status"] == "unhealthy"
        assert body["checks"][f"database:{dead}"]["status"] == "fail"
        assert body["checks"][f"database:{dead}"]["message"].startswith(
            "OperationalError: "
        )
        assert body["checks"]["database:default"]["status"] == "ok"
    assert client.get("/health/live/").status_code == 200


@pytest.mark.postgres
def test_persistent_connection_is_reused_and_recovers_after_the_server_returns(
    client, proxied
):
    proxy, alias = proxied
    created = []

    def count(sender, connection, **kwargs):
        if connection.alias == alias:
            created.append(connection.alias)

    connection_created.connect(count)
    try:
        for _ in range(5):
            assert results(client, "/health/ready/")[0] == 200
        assert len(created) == 1  # One connection, reused by every probe.

        proxy.stop()  # The database goes away: existing and new connections fail.
        status, body = results(client, "/health/ready/")
        assert status == 503
        assert body["checks"][f"database:{alias}"]["status"] == "fail"

        proxy.start()  # And comes back.
        assert results(client, "/health/ready/")[0] == 200
    finally:
        connection_created.disconnect(count)


@pytest.mark.postgres
def test_stale_connection_is_replaced_instead_of_reported(client, proxied):
    proxy, _alias = proxied
    assert results(client, "/health/ready/")[0] == 200
    proxy.stop()  # Cut the kept connection while nobody is probing ...
    proxy.start()  # ... and the server is back before the next probe.
    status, body = results(client, "/health/ready/")
    assert status == 200, body


@pytest.mark.django_db(transaction=True)
def test_non_persistent_connections_are_closed_after_each_check(settings):
    settings.PRODKIT = only(database={})
    created = []

    def count(sender, connection, **kwargs):
        created.append(connection)

    connection_created.connect(count)
    try:
        run_checks()
        run_checks()
    finally:
        connection_created.disconnect(count)
    if connection.vendor == "postgresql":  # CONN_MAX_AGE = 0 in the test settings.
        assert len(created) == 2
        assert all(conn.connection is None for conn in created)


# Cache ----------------------------------------------------------------------------


def test_cache_check_round_trips_a_local_cache(client, settings):
    settings.PRODKIT = only(cache={})
    status, body = results(client)
    assert status == 200
    assert body["checks"]["cache:default"]["status"] == "ok"


def test_dummy_cache_is_not_checked(client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    }
    settings.PRODKIT = only(cache={})
    assert results(client)[1]["checks"] == {}


def redis_cache(url=REDIS_URL):
    pytest.importorskip("django_redis")
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }


@pytest.mark.redis
def test_cache_check_on_redis_leaves_no_key(client, settings):
    redis = pytest.importorskip("redis")

    settings.CACHES = redis_cache()
    settings.PRODKIT = only(cache={})
    status, body = results(client)
    assert status == 200
    assert body["checks"]["cache:default"]["status"] == "ok"
    assert redis.Redis.from_url(REDIS_URL).keys("*prodkit:health:*") == []


@pytest.mark.redis
def test_cache_check_on_redis_writes_under_the_cache_key_prefix(client, settings):
    settings.CACHES = redis_cache(urlunsplit(urlsplit(REDIS_URL)._replace(path="/12")))
    settings.CACHES["default"]["KEY_PREFIX"] = "myproject"
    settings.PRODKIT = only(cache={})
    with health_key_writes(
        database=12, prefix=b"myproject:1:prodkit:health:"
    ) as writes:
        assert results(client)[0] == 200
    assert len(writes) == 1


@pytest.mark.redis
def test_kept_results_spare_redis_round_trips(client, settings):
    # A database of its own: other clients of the server may run health checks too.
    settings.CACHES = redis_cache(urlunsplit(urlsplit(REDIS_URL)._replace(path="/13")))
    # Built before it is assigned: a setting changed in place is not a setting_changed.
    prodkit = only(cache={})
    prodkit["HEALTH"]["CACHE_SECONDS"] = 30
    settings.PRODKIT = prodkit
    with health_key_writes(database=13) as writes:
        for _ in range(10):
            assert client.get("/health/ready/").status_code == 200
    assert len(writes) == 1


@contextlib.contextmanager
def health_key_writes(database, prefix=b":1:prodkit:health:"):
    """The health keys SET in ``database`` meanwhile, from Redis's own keyspace events
    (other clients may share the server, so global command counts would not do)."""
    redis = pytest.importorskip("redis")
    server = redis.Redis.from_url(REDIS_URL)
    previous = server.config_get("notify-keyspace-events")["notify-keyspace-events"]
    server.config_set("notify-keyspace-events", "E$")
    listener = server.pubsub()
    listener.subscribe(f"__keyevent@{database}__:set")
    listener.get_message(timeout=1)  # The subscription's confirmation.
    writes: list[bytes] = []
    try:
        yield writes
        while message := listener.get_message(timeout=0.2):
            if message["data"].startswith(prefix):
                writes.append(message["data"])
    finally:
        listener.close()
        server.config_set("notify-keyspace-events", previous)


@pytest.mark.redis
def test_dead_redis_fails_the_cache_and_redis_checks(client, settings):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{closed_port()}/0")
    settings.PRODKIT = only(cache={}, redis={})
    status, body = results(client)
    assert status == 503
    assert body["checks"]["cache:default"]["status"] == "fail"
    assert body["checks"]["redis:default"]["status"] == "fail"
    assert body["checks"]["redis:default"]["critical"] is False


@pytest.mark.redis
def test_redis_check_reports_memory_and_evictions(client, settings):
    settings.CACHES = redis_cache()
    settings.PRODKIT = only(redis={})
    status, body = results(client)
    check = body["checks"]["redis:default"]
    assert check["status"] == "ok", check
    assert check["details"]["used_memory_mb"] > 0
    assert "evicted_keys" in check["details"]
    assert check["details"]["redis_version"]


@pytest.mark.redis
def test_redis_check_warns_near_maxmemory(client, settings):
    redis = pytest.importorskip("redis")

    server = redis.Redis.from_url(REDIS_URL)
    previous = int(server.config_get("maxmemory")["maxmemory"] or 0)
    used = int(server.info("memory")["used_memory"])
    settings.CACHES = redis_cache()
    settings.PRODKIT = only(redis={"MEMORY_WARN_PERCENT": 50})
    server.config_set("maxmemory", used + used // 2)
    try:
        status, body = results(client)
    finally:
        server.config_set("maxmemory", previous)
    assert status == 200
    assert body["checks"]["redis:default"]["status"] == "warn"
    assert "of maxmemory" in body["checks"]["redis:default"]["message"]


# Migrations -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migrations_check_passes_when_all_are_applied(client, settings):
    settings.PRODKIT = only(migrations={})
    status, body = results(client)
    assert body["checks"]["migrations:default"]["status"] == "ok"
    assert body["checks"]["migrations:default"]["critical"] is False


@pytest.mark.django_db(transaction=True)
def test_unapplied_migration_degrades_or_fails_as_configured(client, settings):
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    # The newest migration, as after a deploy whose migrate has not run yet.
    (newest,) = MigrationLoader(None).graph.leaf_nodes("prodkit")
    name = f"prodkit.{newest[1]}"
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied(*newest)
    try:
        settings.PRODKIT = only(migrations={})
        status, body = results(client)
        assert (status, body["status"]) == (200, "degraded")
        check = body["checks"]["migrations:default"]
        assert check["message"] == f"1 unapplied migration(s): {name}"
        assert check["details"] == {"unapplied": [name]}

        settings.PRODKIT = only(migrations={"CRITICAL": True})
        assert client.get("/health/ready/").status_code == 503
    finally:
        recorder.record_applied(*newest)


# Disk and memory ------------------------------------------------------------------


def test_disk_check_reports_usage(client, settings):
    settings.PRODKIT = only(disk={"PATHS": ["/"]})
    check = results(client)[1]["checks"]["disk:/"]
    assert check["status"] == "ok"
    assert 0 < check["details"]["used_percent"] < 90


def test_disk_check_warns_then_fails_at_its_thresholds(client, settings):
    settings.PRODKIT = only(disk={"WARN_PERCENT": 1, "FAIL_PERCENT": 100})
    assert results(client)[1]["checks"]["disk:/"]["status"] == "warn"
    settings.PRODKIT = only(disk={"WARN_PERCENT": 1, "FAIL_PERCENT": 1})
    status, body = results(client)
    assert body["checks"]["disk:/"]["status"] == "fail"
    assert status == 200  # Not critical by default.


def test_disk_check_fails_on_a_missing_path(client, settings):
    settings.PRODKIT = only(disk={"PATHS": ["/nonexistent-prodkit-path"]})
    check = results(client)[1]["checks"]["disk:/nonexistent-prodkit-path"]
    assert check["status"] == "fail"
    assert check["message"].startswith("cannot read /nonexistent-prodkit-path")


def test_memory_check_reports_rss_and_honours_thresholds(client, settings):
    settings.PRODKIT = only(memory={})
    check = results(client)[1]["checks"]["memory"]
    assert check["status"] == "ok"
    assert check["details"]["rss_mb"] > 10
    settings.PRODKIT = only(memory={"WARN_MB": 1})
    assert results(client)[1]["checks"]["memory"]["status"] == "warn"
    settings.PRODKIT = only(memory={"WARN_MB": 1, "FAIL_MB": 2})
    assert results(client)[1]["checks"]["memory"]["status"] == "fail"


# Broker ---------------------------------------------------------------------------


@pytest.mark.celery
def test_broker_check_connects_to_the_configured_broker(client, settings):
    pytest.importorskip("kombu")
    settings.PRODKIT = only(broker={"TIMEOUT": 10.0})  # Generous: a busy CI machine.
    check = results(client)[1]["checks"]["broker"]
    assert check["status"] == "ok", check


@pytest.mark.celery
def test_dead_broker_is_a_bounded_non_critical_failure(client, settings):
    pytest.importorskip("kombu")
    settings.PRODKIT = only(
        broker={
            "URL": f"amqp://guest:s3cret@127.0.0.1:{closed_port()}//",
            "TIMEOUT": 1.0,
        }
    )
    status, body = results(client)
    check = body["checks"]["broker"]
    assert (status, check["status"]) == (200, "fail")
    assert "s3cret" not in json.dumps(body)


def test_no_broker_check_when_tasks_run_eagerly(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PRODKIT = only(broker={})
    assert "broker" not in results(client)[1]["checks"]


@pytest.mark.redis
def test_redis_check_warns_when_keys_were_evicted_since_the_last_probe(
    client, settings
):
    redis = pytest.importorskip("redis")
    server = redis.Redis.from_url(REDIS_URL)
    scratch = redis.Redis.from_url(REDIS_URL, db=15)
    previous = server.config_get("maxmemory", "maxmemory-policy")
    settings.CACHES = redis_cache()
    settings.PRODKIT = only(redis={"MEMORY_WARN_PERCENT": 100})
    try:
        assert results(client)[1]["checks"]["redis:default"]["status"] == "ok"
        used = int(server.info("memory")["used_memory"])
        server.config_set("maxmemory-policy", "allkeys-random")
        server.config_set("maxmemory", used + 1024 * 1024)
        for index in range(64):  # 4 MB into a 1 MB allowance: Redis must evict.
            scratch.set(f"prodkit-test:evict:{index}", b"x" * 65536)
        status, body = results(client)
    finally:
        server.config_set("maxmemory", previous["maxmemory"])
        server.config_set("maxmemory-policy", previous["maxmemory-policy"])
        scratch.flushdb()
    check = body["checks"]["redis:default"]
    assert (status, check["status"]) == (200, "warn")
    assert check["message"].endswith("keys evicted since the last check")
