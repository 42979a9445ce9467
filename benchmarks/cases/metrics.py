"""Request metrics and per-request query statistics: prodkit's ``MetricsMiddleware`` and
``QueriesMiddleware`` against Django's default stack, django-prometheus's middleware and
django-silk's, in the same run, on a JSON view and on a view making one ORM ``SELECT``.

Every case runs behind startproject's 7 default middleware classes, with its own
``WSGIHandler``. The database is PostgreSQL when ``DATABASE_URL`` is set
(``CONN_MAX_AGE=600``), else SQLite in memory; prodkit's roll-ups go to ``LocMemCache``
and, when a Redis answers at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/13``), to
django-redis there in cases of their own. What each peer needs beyond its middleware is
switched on only during its own visits: django-silk's patch of ``SQLCompiler.execute_sql``
(which its middleware applies for the whole process on its first request, and which
every ORM query would otherwise pay), and prodkit's query recorder on the connection.
silk writes its rows per request into tables created for the run (its app's models),
dropped at the end.

Before and after timing, each case sends requests and asserts what its label claims:
status and body, the default stack's header, the statements per request (counted at
Django's ``CursorWrapper`` in every thread), and what each package recorded (prodkit's
roll-ups and statistics, django-prometheus's counters, silk's rows). Cache writes and
Redis round trips are counted over the whole run, case by case, since prodkit's roll-ups
are flushed on a timer rather than per request.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import statistics
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from benchmarks import project
from benchmarks.cases.queries import APP_LABEL, ROW_TEXT, row_model, row_pk, switch_silk
from benchmarks.cases.request_id import DEFAULT_MIDDLEWARE, NOOP
from benchmarks.counters import counting, database_from_env, redacted, server_label
from benchmarks.harness import Benchmark, Case, RoundStats, Send
from benchmarks.report import markdown, signed, summarise

URLCONF = __name__
SELECT_PATH = "/select/"
COUNTED = 200  # requests counted per case, before and after timing
WARM_UP = 3
SILK_SHARE = 0.05  # silk costs ~50× a bare request: 1/20 of the requests
# The one-SELECT view costs ~5× the JSON view: its cases get half of each visit, so that a
# full run stays under 8 minutes on PostgreSQL.
SELECT_SHARE = 0.5
T1_US = 10.0
RESEARCH_BASELINE_US = 112.7  # the research notes' (b): Django's default MIDDLEWARE
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
KEY_PREFIX = "prodkit-bench-metrics"

PROMETHEUS_BEFORE = "django_prometheus.middleware.PrometheusBeforeMiddleware"
PROMETHEUS_AFTER = "django_prometheus.middleware.PrometheusAfterMiddleware"
SILK = "silk.middleware.SilkyMiddleware"

DATABASE = database_from_env("metrics", 600)


def _redis_missing() -> str | None:
    """Why django-redis cannot be the roll-up cache here, or None."""
    for module in ("django_redis", "redis"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    import redis

    client = redis.Redis.from_url(
        REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return f"no Redis at {redacted(REDIS_URL)} ({type(error).__name__})"
    finally:
        client.close()
    return None


REDIS_MISSING = _redis_missing()

# prodkit's roll-up cache of each case that has MetricsMiddleware: a cache of its own per
# case, so that the counts each one flushed can be read back and checked at the end.
ROLLUP_CACHES = {"m": "locmem", "b": "locmem", "n": "redis"}


def _rollup_alias(key: str) -> str:
    return f"rollup-{key}"


def _caches() -> dict[str, dict[str, object]]:
    caches: dict[str, dict[str, object]] = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    for letter, kind in ROLLUP_CACHES.items():
        if kind == "redis" and REDIS_MISSING is not None:
            continue
        for key in (letter, letter.upper()):
            alias = _rollup_alias(key)
            if kind == "locmem":
                caches[alias] = {
                    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    "LOCATION": alias,
                }
            else:
                caches[alias] = {
                    "BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": REDIS_URL,
                    "KEY_PREFIX": f"{KEY_PREFIX}-{alias}",
                }
    return caches


CACHES = _caches()


# --- urlconf and views -------------------------------------------------------------------


def select_view(request: HttpRequest) -> HttpResponse:
    """One ORM ``SELECT`` by primary key."""
    found = list(
        row_model().objects.filter(pk=row_pk()).values_list("text", flat=True)[:1]
    )
    return JsonResponse({"ok": found == [ROW_TEXT]})


# Filled in by build(), after django.setup(): silk's urls can only be imported then.
urlpatterns: list[Any] = []


def _fill_urlconf() -> None:
    from django.urls import include, path

    urlpatterns[:] = [
        path(project.PATH.strip("/") + "/", project.json_view, name="json"),
        path(SELECT_PATH.strip("/") + "/", select_view, name="select"),
        # Mounted as its docs say, so that its middleware finds its own URLs.
        path("silk/", include("silk.urls", namespace="silk")),
    ]


SETTINGS: dict[str, object] = {"ROOT_URLCONF": URLCONF}


# --- set-up: silk's tables -----------------------------------------------------------------

_tables: list[type[Any]] = []


def _create_silk_tables() -> None:
    from django.apps import apps
    from django.db import connection

    models = list(apps.get_app_config("silk").get_models())
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in reversed(models):  # left behind by a run that failed
            if model._meta.db_table in existing:
                editor.delete_model(model)
        for model in models:
            editor.create_model(model)
            _tables.append(model)
    atexit.register(_drop_tables)


def _clear_redis() -> None:
    """Forget the roll-ups of earlier runs: their running totals never expire."""
    if REDIS_MISSING is not None:
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}-*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _drop_tables() -> None:
    from django.db import connection

    if not _tables:
        return
    with connection.schema_editor() as editor:
        for model in reversed(_tables):
            editor.delete_model(model)
    _tables.clear()


# --- what each arm switches on during its visits ------------------------------------------

_state: dict[str, Any] = {}
# The case whose visit (or verification) is running, and whether the roll-ups are being
# flushed by the benchmark itself rather than by a request: for the counters.
_now: dict[str, Any] = {"case": None, "outside": False}
# Per case, the time left before its roll-up flush was due when its last visit ended.
_timers: dict[str, float] = {}


@contextmanager
def _connection(*wrappers: Callable[..., Any]) -> Iterator[None]:
    """Exactly ``wrappers`` on the connection's ``execute_wrappers`` during the visit:
    prodkit's recorder, which ``connection_created`` installed, only in the cases with
    QueriesMiddleware, so that the others run Django's own query path."""
    from django.db import connection

    saved = connection.execute_wrappers
    connection.execute_wrappers = list(wrappers)
    try:
        yield
    finally:
        connection.execute_wrappers = saved


@contextmanager
def _rollups(key: str) -> Iterator[None]:
    """The roll-ups of one case as if its process served only its requests.

    The flush timer (``_next_flush`` in ``django_prodkit.rollup``) runs only during the
    case's own visits, starting a full ``FLUSH_SECONDS`` away, and what a visit counted is
    flushed to the case's own cache when it ends, outside the timed requests and left out
    of the per-request counts.
    """
    import time

    from django_prodkit import conf, rollup

    assert hasattr(rollup, "_next_flush"), "django_prodkit.rollup has no _next_flush"
    remaining = _timers.get(key, conf.get().rollup.flush_seconds)
    rollup._next_flush = time.monotonic() + remaining
    try:
        yield
    finally:
        _timers[key] = max(rollup._next_flush - time.monotonic(), 0.0)
        _flush_outside()


def _flush_outside() -> None:
    from django_prodkit import rollup

    _now["outside"] = True
    try:
        assert rollup.flush(), "the roll-ups could not be flushed"
    finally:
        _now["outside"] = False


@contextmanager
def _silk() -> Iterator[None]:
    """silk's process-wide patch, on only while its own handler serves requests."""
    from silk.collector import DataCollector

    switch_silk(on=True)
    try:
        yield
    finally:
        switch_silk(on=False)
        DataCollector().clear()


def _arm(key: str, *, recorder: bool, rollups: bool, silk: bool) -> Callable[[], Any]:
    """The context of a case's visits: which case it is, and what it switches on."""

    @contextmanager
    def context() -> Iterator[None]:
        with ExitStack() as stack:
            _now["case"] = key
            stack.callback(_now.update, case=None)
            stack.enter_context(
                _connection(*([_state["recorder"].wrapper] if recorder else []))
            )
            if rollups:
                stack.enter_context(_rollups(key))
            if silk:
                stack.enter_context(_silk())
            yield

    return context


def _silk_rows() -> dict[str, int]:
    from silk.models import Request, SQLQuery

    return {"requests": Request.objects.count(), "queries": SQLQuery.objects.count()}


def _prometheus_count(view: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(
        "django_http_responses_total_by_status_view_method_total",
        {"status": "200", "view": view, "method": "GET"},
    )
    return value or 0.0


def _rollup_requests() -> dict[str, int]:
    """The case's roll-ups in its cache: requests in all, and on this route."""
    from django_prodkit import rollup

    _now["outside"] = True
    try:
        totals = rollup.totals(("http.requests",))
    finally:
        _now["outside"] = False
    return {
        "all": totals.get("http.requests", 0),
        "route": sum(
            amount
            for name, amount in totals.items()
            if name.endswith("|GET|2xx") and name.startswith("http.requests|/")
        ),
    }


# --- counting ------------------------------------------------------------------------------

# Per case, filled in when each case is first verified: statements per request.
COUNTS: dict[str, dict[str, float]] = {}
# Over the whole run, per case and per event ("in" a request, or "out": the benchmark's
# own flush at the end of each visit): roll-up flushes, cache writes, Redis round trips.
EVENTS: Counter[tuple[str, str, str]] = Counter()


@contextmanager
def _counting_sql() -> Iterator[Counter[str]]:
    from django.db.backends.utils import CursorWrapper

    events: Counter[str] = Counter()

    def record(*args: object) -> None:
        events["sql"] += 1

    with ExitStack() as stack:
        stack.enter_context(counting(CursorWrapper, "execute", record))
        stack.enter_context(counting(CursorWrapper, "executemany", record))
        yield events


def _event(name: str) -> Callable[..., None]:
    def record(*args: object) -> None:
        where = "out" if _now["outside"] else "in"
        EVENTS[(_now["case"] or "?", name, where)] += 1

    return record


_count_flush = _event("flushes")
# Per case, the requests its roll-ups flushed: the running total of http.requests in the
# slots handed to the cache (read here, not from the cache, which other users of the same
# Redis may empty).
SERVED: Counter[str] = Counter()


def _flushed(slots: Mapping[tuple[str, int, str], int]) -> None:
    _count_flush()
    SERVED[_now["case"] or "?"] += slots.get(("t", 0, "http.requests"), 0)


def _run_counters() -> ExitStack:
    """Counters of roll-up flushes, cache writes and Redis round trips, for the whole run.

    They cost nothing on a request that does not touch a cache: only a flush does.
    """
    from django.core.cache.backends.locmem import LocMemCache

    from django_prodkit.rollup.backends import CacheBackend, RedisBackend

    stack = ExitStack()
    stack.enter_context(counting(CacheBackend, "write", _flushed))
    stack.enter_context(counting(RedisBackend, "write", _flushed))
    for name in ("add", "set", "incr", "delete", "touch"):
        stack.enter_context(counting(LocMemCache, name, _event("cache_writes")))
    if REDIS_MISSING is None:
        import redis.connection

        # One call per round trip: a pipeline is packed and sent once.
        stack.enter_context(
            counting(
                redis.connection.AbstractConnection,
                "send_packed_command",
                _event("redis_round_trips"),
            )
        )
    return stack


# --- verification --------------------------------------------------------------------------


def _verify(
    key: str,
    *,
    sql: float,
    before: Callable[[], object] | None = None,
    after: Callable[[object, int], None] | None = None,
) -> Callable[[Send], None]:
    """Send 200 requests counting statements; check them and what the arm recorded."""

    def verify(send: Send) -> None:
        where = f"case ({key})"
        for _ in range(WARM_UP):
            response = send()
        assert "x-frame-options" in response.headers, f"{where}: {response.headers}"
        assert "server-timing" not in response.headers, f"{where}: {response.headers}"
        recorded = before() if before is not None else None
        with _counting_sql() as events:
            for _ in range(COUNTED):
                response = send()
                assert response.status.startswith("200"), f"{where}: {response.status}"
                assert response.body == project.BODY, f"{where}: {response.body!r}"
        if after is not None:
            after(recorded, COUNTED)
        per_request = events["sql"] / COUNTED
        if sql >= 0:
            assert per_request == sql, f"{where}: {per_request} SQL per request"
        COUNTS.setdefault(key, {"sql": per_request})

    return verify


def _checks(
    *checks: tuple[Callable[[], object], Callable[[object, int], None]],
) -> tuple[Callable[[], object], Callable[[object, int], None]]:
    """Several before/after pairs run as one."""

    def before() -> object:
        return [start() for start, _ in checks]

    def after(recorded: object, count: int) -> None:
        for (_, check), value in zip(checks, recorded, strict=True):  # type: ignore[call-overload]
            check(value, count)

    return before, after


def _silk_recorded(
    view_queries: int,
) -> tuple[Callable[[], object], Callable[[object, int], None]]:
    def after(before: object, count: int) -> None:
        rows = _silk_rows()
        start: dict[str, int] = before  # type: ignore[assignment]
        added = {name: rows[name] - start[name] for name in rows}
        assert added == {"requests": count, "queries": count * view_queries}, added

    return _silk_rows, after


def _prometheus_recorded(
    view: str,
) -> tuple[Callable[[], object], Callable[[object, int], None]]:
    def after(before: object, count: int) -> None:
        moved = _prometheus_count(view) - float(before)  # type: ignore[arg-type]
        assert moved == count, f"django-prometheus counted {moved}, not {count}"

    return functools.partial(_prometheus_count, view), after


def _rollups_recorded() -> tuple[Callable[[], object], Callable[[object, int], None]]:
    """Every request counted in the case's roll-up cache, on its route."""

    def before() -> object:
        _flush_outside()
        return _rollup_requests()

    def after(recorded: object, count: int) -> None:
        _flush_outside()
        start: dict[str, int] = recorded  # type: ignore[assignment]
        now = _rollup_requests()
        added = {name: now[name] - start[name] for name in now}
        assert added == {"all": count, "route": count}, f"roll-ups: {added}"

    return before, after


def _stats_recorded(
    view_queries: int,
) -> tuple[Callable[[], object], Callable[[object, int], None]]:
    """QueriesMiddleware made one QueryStats per request, with the view's queries."""
    from django_prodkit.queries import middleware

    def before() -> object:
        seen: list[Any] = []
        original = middleware.report_repeats

        def report(stats: Any, request: Any = None) -> None:
            seen.append(stats)
            original(stats, request)

        middleware.report_repeats = report  # type: ignore[assignment]
        return seen, original

    def after(recorded: object, count: int) -> None:
        seen, original = recorded  # type: ignore[misc]
        middleware.report_repeats = original
        assert len(seen) == count, f"QueriesMiddleware saw {len(seen)} of {count}"
        counts = {stats.count for stats in seen}
        assert counts == {view_queries}, f"queries per request: {counts}"
        if view_queries:
            assert all(stats.db_seconds > 0 for stats in seen), "no database time"

    return before, after


# --- the cases -----------------------------------------------------------------------------

VIEWS = {
    "json": (project.PATH, "JSON view"),
    "select": (SELECT_PATH, "one-SELECT ORM view"),
}
# Keys: lower case on the JSON view, upper case on the one-SELECT view.
BASELINES = {"json": "a", "select": "A"}
PEERS = {"json": "p", "select": "P"}
METRICS = "django_prodkit.metrics.MetricsMiddleware"
QUERIES = "django_prodkit.queries.QueriesMiddleware"


def _case(
    view: str,
    letter: str,
    label: str,
    middleware: Sequence[str],
    *,
    rollups: bool = False,
    recorder: bool = False,
    silk: bool = False,
    prometheus: bool = False,
    share: float = 1.0,
) -> Case:
    key = letter if view == "json" else letter.upper()
    if view == "select":
        share = min(share, SELECT_SHARE)
    path_info, view_label = VIEWS[view]
    queries = 0 if view == "json" else 1
    cache = _rollup_alias(key) if rollups else "default"
    checks = []
    if rollups:
        checks.append(_rollups_recorded())
    if recorder:
        checks.append(_stats_recorded(queries))
    if prometheus:
        checks.append(_prometheus_recorded(view))
    if silk:
        checks.append(_silk_recorded(queries))
    before, after = _checks(*checks) if checks else (None, None)
    base = f"({BASELINES[view]})"
    return Case(
        key=key,
        label=label.format(base=base, view=view_label),
        middleware=middleware,
        # Every case carries PRODKIT, so that all pay the same settings refill when a
        # visit begins.
        settings={**SETTINGS, "PRODKIT": {"ROLLUP": {"CACHE": cache}}},
        environ={"PATH_INFO": path_info},
        context=_arm(key, recorder=recorder, rollups=rollups, silk=silk),
        share=share,
        verify=_verify(
            key,
            # silk's own statements vary: its garbage collection runs on 10% of requests.
            sql=-1 if silk else queries,
            before=before,
            after=after,
        ),
    )


def build() -> list[Case]:
    from benchmarks.cases.queries import _find_recorder

    _fill_urlconf()
    row_pk()
    _create_silk_tables()
    _clear_redis()
    atexit.register(_clear_redis)
    _state["recorder"] = _find_recorder()
    _state["counters"] = _run_counters()
    default = list(DEFAULT_MIDDLEWARE)
    cases: list[Case] = []
    for view in VIEWS:
        cases.append(
            _case(view, "a", "{view}, Django's default MIDDLEWARE (7 classes)", default)
        )
        if view == "json":
            cases.append(
                _case(view, "r", "ref: {base} + one no-op middleware", [NOOP, *default])
            )
        cases.append(
            _case(
                view,
                "m",
                "{base} + prodkit MetricsMiddleware, LocMemCache roll-ups",
                [METRICS, *default],
                rollups=True,
            )
        )
        if REDIS_MISSING is None:
            cases.append(
                _case(
                    view,
                    "n",
                    "{base} + prodkit MetricsMiddleware, django-redis roll-ups",
                    [METRICS, *default],
                    rollups=True,
                )
            )
        cases.append(
            _case(
                view,
                "q",
                "{base} + prodkit QueriesMiddleware (recorder on the connection)",
                [QUERIES, *default],
                recorder=True,
            )
        )
        cases.append(
            _case(
                view,
                "b",
                "{base} + both, LocMemCache roll-ups",
                [METRICS, QUERIES, *default],
                rollups=True,
                recorder=True,
            )
        )
        cases.append(
            _case(
                view,
                "p",
                "{base} + django-prometheus Before/After middleware",
                [PROMETHEUS_BEFORE, *default, PROMETHEUS_AFTER],
                prometheus=True,
            )
        )
        cases.append(
            _case(
                view,
                "s",
                "{base} + django-silk SilkyMiddleware",
                [*default, SILK],
                silk=True,
                share=SILK_SHARE,
            )
        )
    return cases


# --- the extra report ----------------------------------------------------------------------


def _per_thousand(key: str, name: str, requests: int) -> float:
    return EVENTS[(key, name, "in")] * 1000 / requests if requests else float("nan")


def extra(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, object]]:
    """Each view's cases against its baseline and django-prometheus; counts; target T1."""
    database = server_label(DATABASE)
    if "counters" in _state:
        _state.pop("counters").close()
    _drop_tables()
    by_key = {case.key: case for case in cases}
    redis = REDIS_MISSING is None
    header = [
        "case",
        "p50 µs",
        "Δ vs baseline µs [min–max]",
        "× baseline",
        "× django-prometheus",
        "SQL / request",
        "roll-up flushes / 1,000",
        "cache writes / 1,000",
        *(["Redis round trips / 1,000"] if redis else []),
    ]
    body: list[list[str]] = []
    data: dict[str, object] = {}
    deltas: dict[str, float] = {}
    served: dict[str, int] = {}
    for view, baseline in BASELINES.items():
        group = [case for case in cases if case.key.islower() == (view == "json")]
        rows = summarise(group, dict(stats), baseline)
        peer_rows = summarise(group, dict(stats), PEERS[view])
        for row, peer_row in zip(rows, peer_rows, strict=True):
            counts = COUNTS.get(row.key, {})
            deltas[row.key] = row.delta_us.median
            span = row.delta_us
            rollups = row.key.lower() in ROLLUP_CACHES
            if rollups:
                served[row.key] = SERVED[row.key]
            per_thousand = {
                name: _per_thousand(row.key, name, served[row.key]) if rollups else 0.0
                for name in ("flushes", "cache_writes", "redis_round_trips")
            }
            body.append(
                [
                    f"({row.key}) {by_key[row.key].label}",
                    f"{row.p50_us.median:,.1f}",
                    "—"
                    if row.key == baseline
                    else f"{signed(span.median)} [{signed(span.low)} – {signed(span.high)}]",
                    f"{row.ratio:.2f}",
                    f"{peer_row.ratio:.2f}",
                    f"{counts.get('sql', float('nan')):.2f}",
                    *(
                        _amount(per_thousand[name])
                        for name in ("flushes", "cache_writes", "redis_round_trips")[
                            : 3 if redis else 2
                        ]
                    ),
                ]
            )
            data[row.key] = {
                "delta_vs_baseline_us": round(span.median, 3),
                "ratio_vs_baseline": round(row.ratio, 4),
                "ratio_vs_prometheus": round(peer_row.ratio, 4),
                "sql_per_request": counts.get("sql"),
                "per_1000_requests": per_thousand,
                "requests_counted_by_rollups": served.get(row.key),
            }
    cache = "LocMemCache" + (
        f"; django-redis at {redacted(REDIS_URL)}, KEY_PREFIX {KEY_PREFIX!r}-…"
        if redis
        else f" (django-redis cases left out: {REDIS_MISSING})"
    )
    text = "\n".join(
        [
            f"database: {database}",
            f"roll-up caches: {cache}",
            "Δ and × are paired per round against the same view behind Django's default "
            "MIDDLEWARE ((a), (A)) and against django-prometheus on it ((p), (P)). SQL per "
            f"request counted over {COUNTED} requests per case before timing, in every "
            "thread. Roll-up flushes, cache writes and Redis round trips made inside "
            "requests over the whole run, per 1,000 requests the case's roll-ups counted "
            "(each case's flush timer runs during its own visits only, as in a process "
            "serving only its requests).",
            "",
            markdown(header, body),
            "",
            _per_flush(),
            _t1(deltas, statistics.median(item.p50_us for item in stats["a"])),
        ]
    )
    return text, {"database": database, "caches": cache, "cases": data}


def _amount(value: float) -> str:
    if value != value:  # NaN: not counted
        return "?"
    return "0" if value == 0 else f"{value:.3f}"


def _per_flush() -> str:
    """What one flush costs, over every flush of the run (the benchmark's own included)."""
    parts = []
    for kind, letters in (
        ("LocMemCache", [k for k, v in ROLLUP_CACHES.items() if v == "locmem"]),
        ("django-redis", [k for k, v in ROLLUP_CACHES.items() if v == "redis"]),
    ):
        keys = {key for letter in letters for key in (letter, letter.upper())}
        flushes = sum(
            amount
            for (case, name, _), amount in EVENTS.items()
            if case in keys and name == "flushes"
        )
        if not flushes:
            continue
        writes = sum(
            amount
            for (case, name, _), amount in EVENTS.items()
            if case in keys and name == "cache_writes"
        )
        trips = sum(
            amount
            for (case, name, _), amount in EVENTS.items()
            if case in keys and name == "redis_round_trips"
        )
        parts.append(
            f"{kind} {writes / flushes:.1f} cache writes and {trips / flushes:.2f} "
            f"Redis round trips per flush ({flushes:,} flushes)"
        )
    stray = sum(
        amount
        for (case, name, _), amount in EVENTS.items()
        if case.lower() not in ROLLUP_CACHES
    )
    return (
        f"Per flush of prodkit's roll-ups, over the run: {'; '.join(parts) or 'none'}. "
        f"Cache writes or round trips in cases without MetricsMiddleware: {stray}."
    )


def _t1(deltas: Mapping[str, float], baseline_us: float) -> str:
    """T1's budget of one prodkit middleware, on the JSON view.

    T1 was set where Django's default stack took 112.7 µs (the research notes' (b)); it is
    also given scaled by this run's baseline, since CPU costs scale with the machine.
    """
    scaled = T1_US * baseline_us / RESEARCH_BASELINE_US
    middlewares = [
        (name, key)
        for name, key in (
            ("MetricsMiddleware", "m"),
            ("MetricsMiddleware on django-redis", "n"),
            ("QueriesMiddleware", "q"),
        )
        if key in deltas
    ]
    verdicts = ", ".join(
        f"{name} ({key}) {signed(deltas[key])} µs {'yes' if deltas[key] <= T1_US else 'NO'}"
        for name, key in middlewares
    )
    scaled_verdicts = ", ".join(
        f"({key}) {'yes' if deltas[key] <= scaled else 'NO'}" for _, key in middlewares
    )
    return (
        f"T1, each prodkit middleware ≤ {T1_US:g} µs over Django's default MIDDLEWARE "
        f"(JSON view): {verdicts}; scaled by (a) ({baseline_us:.1f} µs here, "
        f"{RESEARCH_BASELINE_US} µs in the research notes): ≤ {scaled:.1f} µs: "
        f"{scaled_verdicts}. Both together (b) {signed(deltas['b'])} µs; "
        f"django-prometheus (p) {signed(deltas['p'])} µs (research notes +53.0)."
    )


_missing = [
    name
    for name, where in (
        ("django-prometheus", "django_prometheus"),
        ("django-silk", "silk"),
    )
    if importlib.util.find_spec(where) is None
]
_distributions = [
    "django-prodkit",
    "django-prometheus",
    "prometheus-client",
    "django-silk",
]
if REDIS_MISSING is None:
    _distributions += ["django-redis", "redis"]
if DATABASE.postgres_url is not None:
    _distributions.append("psycopg")

SPEC = Benchmark(
    name="metrics",
    title="Request metrics: prodkit's MetricsMiddleware and QueriesMiddleware vs django-prometheus and django-silk",
    baseline="a",
    installed_apps=["django_prodkit", "silk", APP_LABEL],
    settings={"DATABASES": {"default": DATABASE.settings}, "CACHES": CACHES},
    distributions=_distributions,
    build=build,
    extra=extra,
    skip=f"needs {' and '.join(_missing)} (the bench group)" if _missing else None,
)
