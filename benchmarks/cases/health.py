"""Health endpoints: prodkit's ``/health/live/`` and ``/health/ready/`` against
django-health-check's endpoint with its ``Database`` and ``Cache`` checks.

Every case runs behind startproject's 7 default middleware classes. The services are
real when available: PostgreSQL when ``DATABASE_URL`` is set (``CONN_MAX_AGE=600``, as in
production), else SQLite in memory; django-redis at ``REDIS_URL`` (default
``redis://127.0.0.1:6379/0``) when it answers, else ``LocMemCache``. prodkit's ready
endpoint runs only its database and cache checks, the two that django-health-check's
endpoint is given, once with its result cache (the default ``CACHE_SECONDS=5``) and once
with ``CACHE_SECONDS=0``, where every probe really runs both checks.

Before timing, each case also sends a batch of requests under counters that see every
thread: SQL statements, new database connections, Redis round trips, threads started and
event loops created per request, cross-checked against PostgreSQL's and Redis's own
counters where those are the servers in use.
"""

from __future__ import annotations

import asyncio.base_events
import dataclasses
import importlib.util
import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from benchmarks.cases.request_id import DEFAULT_MIDDLEWARE
from benchmarks.counters import counting, database_from_env, redacted
from benchmarks.harness import Benchmark, Case, RoundStats, Send
from benchmarks.report import markdown, signed

URLCONF = __name__
LIVE_PATH = "/health/live/"
READY_PATH = "/health/ready/"
PEER_PATH = "/health-check/"
REF_PATH = "/ref/"
PEER_CHECKS = ["health_check.checks.Cache", "health_check.checks.Database"]
PEER_BODY = {"Cache(alias='default')": "OK", "Database(alias='default')": "OK"}
PEER_SHARE = 0.1  # django-health-check costs ~50× bare Django: 1/10 of the requests
READY_CHECKS = {"database:default", "cache:default"}
COUNTED_REQUESTS = 100  # per case, after a warm-up, before timing
WARM_UP = 3
CONN_MAX_AGE = 600

# Only the database and cache checks, as django-health-check's endpoint is given.
_ONLY_DATABASE_AND_CACHE = {
    section: {"ENABLED": False}
    for section in ("REDIS", "MIGRATIONS", "DISK", "MEMORY", "BROKER")
}


def _prodkit(cache_seconds: float) -> dict[str, object]:
    health = {**_ONLY_DATABASE_AND_CACHE, "CACHE_SECONDS": cache_seconds}
    # Every case resolves in the same urlconf and carries the same PRODKIT, so that all
    # of them pay the same refill when a visit's override_settings() begins.
    return {"ROOT_URLCONF": URLCONF, "PRODKIT": {"HEALTH": health}}


CACHED = _prodkit(5)
UNCACHED = _prodkit(0)


@dataclasses.dataclass(frozen=True)
class Services:
    """The database and cache every case of this run uses, found once at import."""

    databases: dict[str, dict[str, object]]
    database_label: str
    postgres_url: str | None  # for the server-side counters
    caches: dict[str, dict[str, object]]
    cache_label: str
    redis_url: str | None


def _find_services() -> Services:
    database = database_from_env("health", CONN_MAX_AGE)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        if importlib.util.find_spec("django_redis") is None:
            raise ImportError("django-redis is not installed")
        import redis

        client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        cache: dict[str, object] = {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache"
        }
        cache_label = (
            f"LocMemCache (no Redis at {redacted(redis_url)}: {type(exc).__name__})"
        )
        found_redis: str | None = None
    else:
        cache = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}
        cache_label = f"django-redis at {redacted(redis_url)}"
        found_redis = redis_url
    return Services(
        databases={"default": database.settings},
        database_label=database.label,
        postgres_url=database.postgres_url,
        caches={"default": cache},
        cache_label=cache_label,
        redis_url=found_redis,
    )


SERVICES = _find_services()


# --- urlconf and the reference view ------------------------------------------------------

# Filled in by build(), after django.setup(): the prodkit and health-check views can only
# be imported then. The JSON view comes first, as in the project's own urlconf.
urlpatterns: list[Any] = []


def ref_view(request: Any) -> Any:
    """``SELECT 1`` on the persistent connection and one Redis ``PING``, in this thread."""
    from django.core.cache import cache
    from django.db import connection
    from django.http import JsonResponse

    from django_prodkit import redis as prodkit_redis

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    if SERVICES.redis_url is not None:
        prodkit_redis.get_client("default").ping()
    else:
        cache.get("benchmarks:ref")
    return JsonResponse({"ok": True})


def _fill_urlconf() -> None:
    from django.urls import include, path
    from django.utils.module_loading import import_string

    from benchmarks import project

    peer_view = import_string("health_check.views.HealthCheckView").as_view(
        checks=PEER_CHECKS
    )
    urlpatterns[:] = [
        path(project.PATH.strip("/") + "/", project.json_view),
        path("", include("django_prodkit.urls")),
        path(PEER_PATH.strip("/") + "/", peer_view),
        path(REF_PATH.strip("/") + "/", ref_view),
    ]


# --- counters ----------------------------------------------------------------------------


def _event(name: str, events: list[str]) -> Callable[..., None]:
    def record(*args: Any) -> None:
        events.append(name)  # list.append is atomic: safe from any thread

    return record


@contextmanager
def _client_counters(events: list[str]) -> Iterator[None]:
    """Client-side counters, class-level so that they see the checks' own threads."""
    from django.db.backends.signals import connection_created
    from django.db.backends.utils import CursorWrapper

    def created(**kwargs: object) -> None:
        events.append("connection")

    with ExitStack() as stack:
        # Every statement run through a Django cursor, in any thread.
        stack.enter_context(counting(CursorWrapper, "execute", _event("sql", events)))
        stack.enter_context(
            counting(CursorWrapper, "executemany", _event("sql", events))
        )
        if SERVICES.postgres_url is not None:
            import psycopg

            # Every statement psycopg sends, including Django's connection set-up.
            stack.enter_context(
                counting(psycopg.Cursor, "execute", _event("pg", events))
            )
        if SERVICES.redis_url is not None:
            import redis.asyncio.connection
            import redis.connection

            # One call per round trip: a pipeline is packed and sent once.
            stack.enter_context(
                counting(
                    redis.connection.AbstractConnection,
                    "send_packed_command",
                    _event("redis", events),
                )
            )
            stack.enter_context(
                counting(
                    redis.asyncio.connection.AbstractConnection,
                    "send_packed_command",
                    _event("redis", events),
                    is_async=True,
                )
            )
        stack.enter_context(
            counting(threading.Thread, "start", _event("thread", events))
        )
        stack.enter_context(
            counting(
                asyncio.base_events.BaseEventLoop, "__init__", _event("loop", events)
            )
        )
        # The signal is sent in whichever thread connects.
        connection_created.connect(created, weak=False)
        stack.callback(connection_created.disconnect, created)
        yield


class _Servers:
    """The servers' own counters, read on connections of their own, outside the batch."""

    def __init__(self) -> None:
        self._postgres: Any = None
        self._redis: Any = None
        if SERVICES.postgres_url is not None:
            import psycopg

            self._postgres = psycopg.connect(SERVICES.postgres_url, autocommit=True)
        if SERVICES.redis_url is not None:
            import redis

            self._redis = redis.Redis.from_url(SERVICES.redis_url)
        # What reading the counters itself adds (Redis counts the INFO before the reply).
        first = self.read()
        self._overhead = self._delta(first, self.read())

    def read(self) -> dict[str, int]:
        values: dict[str, int] = {}
        if self._postgres is not None:
            row = self._postgres.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
            values["pg_sessions"] = int(row[0])
        if self._redis is not None:
            info = self._redis.info("stats")
            values["redis_reads"] = int(info["total_reads_processed"])
            values["redis_commands"] = int(info["total_commands_processed"])
            values["redis_connections"] = int(info["total_connections_received"])
        return values

    @staticmethod
    def _delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
        return {key: after[key] - before[key] for key in before}

    def since(self, before: Mapping[str, int]) -> dict[str, int]:
        delta = self._delta(before, self.read())
        return {key: value - self._overhead[key] for key, value in delta.items()}

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.close()
        if self._redis is not None:
            self._redis.close()


# Per-request counts by case key, filled in when each case is first verified.
COUNTS: dict[str, dict[str, float]] = {}
_servers: list[_Servers] = []


def _count(send: Send) -> dict[str, float]:
    for _ in range(WARM_UP):  # worker threads, persistent connections, pools
        send()
    servers = _servers[0]
    before = servers.read()
    events: list[str] = []
    with _client_counters(events):
        for _ in range(COUNTED_REQUESTS):
            response = send()
            assert response.status.startswith("200"), response.status
    # Let closed connections' backends exit: they report their session as they go.
    time.sleep(0.3 if SERVICES.postgres_url is not None else 0.0)
    server = servers.since(before)
    tally = Counter(events)
    per_request = {
        key: tally[key] / COUNTED_REQUESTS
        for key in ("sql", "pg", "connection", "redis", "thread", "loop")
    }
    per_request |= {
        f"server_{key}": value / COUNTED_REQUESTS for key, value in server.items()
    }
    return per_request


# --- verification ------------------------------------------------------------------------


def _expect(
    key: str,
    check: Callable[[Send], None],
    *,
    counts: Callable[[dict[str, float]], None] | None = None,
) -> Callable[[Send], None]:
    """A verifier: the response check each time, the counted batch before timing."""

    def verify(send: Send) -> None:
        check(send)
        if key not in COUNTS:
            COUNTS[key] = _count(send)
            if counts is not None:
                counts(COUNTS[key])

    return verify


def _live(send: Send) -> None:
    response = send()
    assert response.body == b'{"status": "ok"}', response.body
    assert "x-frame-options" in response.headers, response.headers


def _ready(send: Send) -> None:
    response = send()
    assert "x-frame-options" in response.headers, response.headers
    body = json.loads(response.body)
    assert body["status"] == "healthy", body
    assert set(body["checks"]) == READY_CHECKS, body
    assert all(item["status"] == "ok" for item in body["checks"].values()), body


def _peer(send: Send) -> None:
    response = send()
    assert "x-frame-options" in response.headers, response.headers
    assert json.loads(response.body) == PEER_BODY, response.body


def _default_stack(send: Send) -> None:
    assert "x-frame-options" in send().headers


def _no_io(counts: dict[str, float]) -> None:
    assert counts["sql"] == counts["redis"] == counts["connection"] == 0, counts
    assert counts["thread"] == counts["loop"] == 0, counts


def _cached_counts(counts: dict[str, float]) -> None:
    # At most one refresh of the kept results within the batch.
    assert counts["sql"] <= 1 / COUNTED_REQUESTS, counts
    assert counts["thread"] == counts["loop"] == counts["connection"] == 0, counts


def _uncached_counts(counts: dict[str, float]) -> None:
    # Every probe runs both checks, on connections kept from earlier probes.
    assert counts["sql"] == 1, counts
    if SERVICES.redis_url is not None:
        assert counts["redis"] == 1, counts
    assert counts["thread"] == counts["loop"] == counts["connection"] == 0, counts


def _peer_counts(counts: dict[str, float]) -> None:
    assert counts["sql"] == 1, counts
    assert counts["connection"] == 1, counts


def _ref_counts(counts: dict[str, float]) -> None:
    assert counts["sql"] == 1, counts
    assert counts["redis"] == (1 if SERVICES.redis_url is not None else 0), counts
    assert counts["thread"] == counts["loop"] == counts["connection"] == 0, counts


def build() -> list[Case]:
    _fill_urlconf()
    _servers.append(_Servers())
    default = list(DEFAULT_MIDDLEWARE)
    ref_label = (
        "ref: SELECT 1 on the persistent connection + Redis PING, in the request thread"
        if SERVICES.redis_url is not None
        else "ref: SELECT 1 on the persistent connection + LocMem cache.get"
    )
    return [
        Case(
            key="b",
            label="bare Django JSON view, default MIDDLEWARE (7 classes)",
            middleware=default,
            settings=CACHED,
            verify=_expect("b", _default_stack, counts=_no_io),
        ),
        Case(
            key="l",
            label="prodkit /health/live/",
            middleware=default,
            settings=CACHED,
            environ={"PATH_INFO": LIVE_PATH},
            body=None,
            verify=_expect("l", _live, counts=_no_io),
        ),
        Case(
            key="c",
            label="prodkit /health/ready/, database + cache, cached (CACHE_SECONDS=5)",
            middleware=default,
            settings=CACHED,
            environ={"PATH_INFO": READY_PATH},
            body=None,
            verify=_expect("c", _ready, counts=_cached_counts),
        ),
        Case(
            key="u",
            label="prodkit /health/ready/, database + cache, uncached (CACHE_SECONDS=0)",
            middleware=default,
            settings=UNCACHED,
            environ={"PATH_INFO": READY_PATH},
            body=None,
            verify=_expect("u", _ready, counts=_uncached_counts),
        ),
        Case(
            key="h",
            label="django-health-check HealthCheckView, Cache + Database checks",
            middleware=default,
            settings=CACHED,
            environ={"PATH_INFO": PEER_PATH},
            body=None,
            share=PEER_SHARE,
            verify=_expect("h", _peer, counts=_peer_counts),
        ),
        Case(
            key="r",
            label=ref_label,
            middleware=default,
            settings=CACHED,
            environ={"PATH_INFO": REF_PATH},
            verify=_expect("r", _default_stack, counts=_ref_counts),
        ),
    ]


# --- the extra report --------------------------------------------------------------------

# key, column title, what it counts. Counts are per request.
_COLUMNS = [
    ("sql", "SQL", "statements through Django's CursorWrapper, in any thread"),
    (
        "pg",
        "psycopg stmts",
        "every statement psycopg sends, Django's connection set-up included",
    ),
    (
        "connection",
        "new DB conns",
        "Django's connection_created signal, sent in whichever thread connects",
    ),
    (
        "server_pg_sessions",
        "PG sessions",
        "the server's pg_stat_database.sessions for this database: backends started",
    ),
    (
        "redis",
        "Redis RTs",
        "redis-py send_packed_command calls: one per round trip, a pipeline is one",
    ),
    (
        "server_redis_reads",
        "Redis reads*",
        "the server's total_reads_processed: one per round trip",
    ),
    ("server_redis_commands", "Redis cmds*", "the server's total_commands_processed"),
    (
        "server_redis_connections",
        "Redis conns*",
        "the server's total_connections_received",
    ),
    ("thread", "threads", "threading.Thread.start calls"),
    ("loop", "event loops", "asyncio event loops created"),
]


def _applies(key: str) -> bool:
    if key == "pg" or key.startswith("server_pg"):
        return SERVICES.postgres_url is not None
    if key == "redis" or key.startswith("server_redis"):
        return SERVICES.redis_url is not None
    return True


def extra(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, object]]:
    """Ratios against django-health-check, and the per-request counts."""
    if _servers:
        _servers.pop().close()
    peer = [item.p50_us for item in stats["h"]]
    base = [item.p50_us for item in stats["b"]]
    columns = [column for column in _COLUMNS if _applies(column[0])]
    header = [
        "case",
        "p50 µs",
        "Δ vs (h) µs",
        "× (h)",
        "× (b)",
        *(title for _, title, _ in columns),
    ]
    body: list[list[str]] = []
    data: dict[str, object] = {}
    for case in cases:
        p50 = [item.p50_us for item in stats[case.key]]
        vs_peer = statistics.median(a / b for a, b in zip(p50, peer, strict=True))
        vs_base = statistics.median(a / b for a, b in zip(p50, base, strict=True))
        delta = statistics.median(a - b for a, b in zip(p50, peer, strict=True))
        counts = COUNTS.get(case.key, {})
        body.append(
            [
                f"({case.key}) {case.label}",
                f"{statistics.median(p50):,.1f}",
                "—" if case.key == "h" else signed(delta),
                f"{vs_peer:.3f}",
                f"{vs_base:.2f}",
                *(f"{counts.get(key, float('nan')):.2f}" for key, _, _ in columns),
            ]
        )
        data[case.key] = {
            "ratio_vs_peer": round(vs_peer, 4),
            "delta_vs_peer_us": round(delta, 3),
            "requests_share": case.share,
            "per_request": {key: counts.get(key) for key, _, _ in columns},
        }
    legend = [f"{title}: {meaning}." for _, title, meaning in columns]
    if SERVICES.redis_url is not None:
        legend.append("* server-wide: other clients of the same Redis add to them.")
    text = "\n".join(
        [
            f"database: {SERVICES.database_label}",
            f"cache: {SERVICES.cache_label}",
            f"(h) gets {PEER_SHARE:g} of each visit's requests. Counts are per request, "
            f"over {COUNTED_REQUESTS} requests per case after {WARM_UP} warm-up ones, "
            "before timing; ratios are medians of per-round p50 ratios.",
            "",
            markdown(header, body),
            "",
            *legend,
            "",
            _t5(stats),
        ]
    )
    return text, {
        "database": SERVICES.database_label,
        "cache": SERVICES.cache_label,
        "counted_requests": COUNTED_REQUESTS,
        "cases": data,
    }


def _t5(stats: Mapping[str, list[RoundStats]]) -> str:
    """Target T5 of the performance baselines, on the uncached ready endpoint."""
    counts = COUNTS.get("u", {})
    p50 = statistics.median(item.p50_us for item in stats["u"])
    vs_ref = statistics.median(
        u.p50_us / r.p50_us for u, r in zip(stats["u"], stats["r"], strict=True)
    )
    verdicts = [
        ("≤ 1 SQL", counts.get("sql", 0) <= 1),
        ("0 new DB connections", counts.get("connection", 1) == 0),
        (
            "no thread or event loop",
            counts.get("thread", 1) + counts.get("loop", 1) == 0,
        ),
    ]
    if SERVICES.redis_url is not None:
        verdicts.append(("≤ 1 Redis round trip", counts.get("redis", 2) <= 1))
    met = ", ".join(f"{label} {'yes' if ok else 'NO'}" for label, ok in verdicts)
    return (
        f"T5 on (u): {met}. (u) p50 {p50:,.1f} µs = {vs_ref:.2f}× (r), the same I/O in "
        "the request thread; T5's ≤ 600 µs was set where (r) took 545 µs, ≈ 1.10× (r)."
    )


_distributions = ["django-prodkit", "django-health-check"]
if SERVICES.redis_url is not None:
    _distributions += ["django-redis", "redis"]
if SERVICES.postgres_url is not None:
    _distributions += ["psycopg"]

SPEC = Benchmark(
    name="health",
    title="Health endpoints: prodkit vs bare Django and django-health-check",
    baseline="b",
    installed_apps=["django_prodkit", "health_check"],
    settings={"DATABASES": SERVICES.databases, "CACHES": SERVICES.caches},
    distributions=_distributions,
    build=build,
    extra=extra,
)
