"""Query monitoring, per query: prodkit's recorder against no wrapper, a no-op wrapper,
django-prometheus's cursor class and django-silk's SQL interception, in the same run.

Each case times one query through Django's cursor on the same persistent connection
(PostgreSQL when ``DATABASE_URL`` is set, ``CONN_MAX_AGE=600``; else SQLite in memory,
where a query costs no round trip and the figures are CPU only): ``SELECT 1`` through
``connection.cursor()``, ``execute()`` and ``fetchone()``, or, for the ORM group, one
``values_list("text", flat=True)[:1]`` by primary key on a table created for the run.
What each case adds is put on the connection only during its own visits, outside the
timed queries:

- its ``execute_wrappers``: none, a no-op wrapper, a wrapper that times each query with
  ``time.perf_counter()`` and compares it with a threshold (a slow-query logger's fast
  path, the research notes' reference), or prodkit's recorder, which ``connection_created``
  installs on the connection and which is taken off it for the other cases;
- django-prometheus: the cursor class its database backends give psycopg
  (``cursor_factory``) or SQLite (``create_cursor``), made by its ``ExportingCursorWrapper``
  from the class Django uses, so the same connection runs its counters;
- django-silk: its patch of ``SQLCompiler.execute_sql`` and a request in its
  ``DataCollector``, as its middleware leaves them during an intercepted request. silk
  only sees queries made through the ORM's compiler, so it has an ORM case only; the
  rows it would write at the end of the request are not in these timings (the
  ``metrics`` benchmark has them).

Before and after timing, each case runs 1,000 queries under a counter of the statements
sent through Django's ``CursorWrapper`` and asserts what its label claims: the result of
each query, the statements per query, and what the monitoring recorded (prodkit's
per-request statistics, django-prometheus's ``django_db_execute_total``, silk's
collected queries with their ``EXPLAIN``), so a case whose set-up is wrong stops the run.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from benchmarks.counters import counting, database_from_env, server_label
from benchmarks.harness import Benchmark, Case, Operation, RoundStats
from benchmarks.report import markdown, summarise

APP_LABEL = "benchmarks"  # the benchmarks package, installed as an app for its model
ROW_TEXT = "hello"
COUNTED = 1_000  # queries counted per case, before and after timing
WARM_UP = 3
SLOW_SECONDS = (
    0.5  # the reference timing wrapper's threshold: prodkit's default SLOW_MS
)
T3_CPU_US = 0.5  # SQLite in memory
T3_PG_US = 2.0  # PostgreSQL
# An ORM query costs 2 to 4 cursor queries: the ORM cases get half of each visit, so that a
# run with 20,000 queries per cursor case stays under 8 minutes on PostgreSQL.
ORM_SHARE = 0.5
# The research notes' figures for the same wrappers (§2): (SQLite, PostgreSQL) Δ p50 µs.
RESEARCH = {"r": (0.20, 0.72), "t": (0.37, 1.76)}

DATABASE = database_from_env("queries", 600)

# Statements per query, by case key, filled in when each case is first verified.
COUNTS: dict[str, dict[str, float]] = {}
_tables: list[type[Any]] = []
_state: dict[str, Any] = {}


# --- the table the ORM cases read --------------------------------------------------------


@functools.cache
def row_model() -> type[Any]:
    """A one-column model in the ``benchmarks`` app, defined once Django is set up."""
    from django.db import models

    class QueryRow(models.Model):  # noqa: DJ008
        text = models.CharField(max_length=20)

        class Meta:
            app_label = APP_LABEL

    return QueryRow


@functools.cache
def row_pk() -> int:
    """The primary key of the one row of ``row_model()``'s table, created for the run."""
    from django.db import connection

    model = row_model()
    with connection.schema_editor() as editor:
        if model._meta.db_table in connection.introspection.table_names():
            editor.delete_model(model)  # left behind by a run that failed
        editor.create_model(model)
    _tables.append(model)
    atexit.register(_drop_tables)  # also when a case fails
    pk: int = model.objects.create(text=ROW_TEXT).pk
    return pk


def _drop_tables() -> None:
    from django.db import connection

    if not _tables:
        return
    with connection.schema_editor() as editor:
        for model in _tables:
            editor.delete_model(model)
    _tables.clear()


# --- the timed queries -------------------------------------------------------------------


def _select_one() -> Operation:
    from django.db import connection

    def select_one() -> object:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()

    return select_one


def _orm_query() -> Operation:
    model, pk = row_model(), row_pk()

    def orm_query() -> object:
        return list(model.objects.filter(pk=pk).values_list("text", flat=True)[:1])

    return orm_query


SELECT_RESULT: tuple[object, ...] = (1,)
ORM_RESULT = [ROW_TEXT]


# --- what each case puts on the connection -----------------------------------------------


def noop_wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    return execute(sql, params, many, context)


_slow: list[str] = []


def timing_wrapper(
    execute: Any, sql: str, params: Any, many: bool, context: Any
) -> Any:
    """A slow-query logger's fast path: one clock read each side and a comparison."""
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        if time.perf_counter() - started >= SLOW_SECONDS:
            _slow.append(sql)


@contextmanager
def _wrappers(*wrappers: Callable[..., Any]) -> Iterator[None]:
    """Exactly ``wrappers`` on the connection's ``execute_wrappers`` during the visit."""
    from django.db import connection

    saved = connection.execute_wrappers
    connection.execute_wrappers = list(wrappers)
    try:
        yield
    finally:
        connection.execute_wrappers = saved


def _prometheus_labels() -> dict[str, str]:
    from django.db import connection

    return {"alias": connection.alias, "vendor": connection.vendor}


def _prometheus_executed() -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("django_db_execute_total", _prometheus_labels())
    return value or 0.0


def _prometheus_switch() -> tuple[Callable[[], None], Callable[[], None]]:
    """Two functions: put django-prometheus's cursor class on the connection, take it off.

    The class is its ``ExportingCursorWrapper`` of the one Django uses, set where its
    database backends set it: psycopg's ``cursor_factory`` (its PostgreSQL backend wraps
    Django's in ``get_connection_params()``), or SQLite's ``create_cursor()`` (its
    ``DatabaseWrapperMixin``).
    """
    from django.db import connection
    from django_prometheus.db.common import ExportingCursorWrapper

    if "prometheus" in _state:
        switch: tuple[Callable[[], None], Callable[[], None]] = _state["prometheus"]
        return switch
    connection.ensure_connection()
    labels = _prometheus_labels()
    if connection.vendor == "postgresql":
        raw = connection.connection
        original = raw.cursor_factory
        exporting = ExportingCursorWrapper(original, labels["alias"], labels["vendor"])

        def on() -> None:
            raw.cursor_factory = exporting

        def off() -> None:
            raw.cursor_factory = original

    else:
        from django.db.backends.sqlite3.base import SQLiteCursorWrapper

        factory = ExportingCursorWrapper(
            SQLiteCursorWrapper, labels["alias"], labels["vendor"]
        )

        def create_cursor(name: str | None = None) -> Any:
            return connection.connection.cursor(factory=factory)

        def on() -> None:
            connection.create_cursor = create_cursor  # type: ignore[method-assign]

        def off() -> None:
            del connection.create_cursor

    _state["prometheus"] = (on, off)
    return on, off


@contextmanager
def _prometheus() -> Iterator[None]:
    """django-prometheus's cursor class on this connection, and no execute wrapper."""
    on, off = _prometheus_switch()
    with _wrappers():
        on()
        try:
            yield
        finally:
            off()


def switch_silk(*, on: bool) -> None:
    """silk's patch of ``SQLCompiler.execute_sql``, as its middleware applies it, or none."""
    from django.db.models.sql.compiler import SQLCompiler
    from silk.sql import execute_sql

    patched = "_execute_sql" in vars(SQLCompiler)
    if on and not patched:
        SQLCompiler._execute_sql = SQLCompiler.execute_sql  # type: ignore[attr-defined]
        SQLCompiler.execute_sql = execute_sql  # type: ignore[method-assign]
    elif not on and patched:
        SQLCompiler.execute_sql = vars(SQLCompiler)["_execute_sql"]  # type: ignore[method-assign]
        del SQLCompiler._execute_sql  # type: ignore[attr-defined]


_silk_seen: list[dict[str, Any]] = []  # the queries silk collected in the last visit


@contextmanager
def _silk() -> Iterator[None]:
    """silk during an intercepted request: its patch, and a request in its collector."""
    from silk.collector import DataCollector
    from silk.models import Request

    collector = DataCollector()
    with _wrappers():
        switch_silk(on=True)
        # What SilkyMiddleware.process_request leaves (SILKY_PYTHON_PROFILER is off by
        # default); its Request row is only written at the end of a request.
        collector.configure(
            _state.setdefault("silk_request", Request(path="/", method="GET")),
            should_profile=False,
        )
        try:
            yield
        finally:
            _silk_seen[:] = list(collector.queries.values())
            collector.clear()
            switch_silk(on=False)


# --- prodkit ---------------------------------------------------------------------------

QUERIES_LOGGER = "django_prodkit.queries"


def _find_recorder() -> Any:
    """The recorder ``connection_created`` put on the connection: exactly one."""
    from django.db import connection

    from django_prodkit.queries.recorder import recorders

    found = recorders(connection)
    assert len(found) == 1, f"prodkit's recorder on the connection: {found}"
    recorder = found[0]
    assert recorder.threshold == 0.5, (
        f"SLOW_MS is not the default: {recorder.threshold}"
    )
    return recorder


@contextmanager
def _prodkit(*, scope: bool) -> Iterator[None]:
    """prodkit's recorder alone on the connection; inside a ``track()`` block or not."""
    from django_prodkit.queries import track

    with _wrappers(_state["recorder"].wrapper):
        if not scope:
            yield
            return
        # As QueriesMiddleware does per request: a QueryStats in the context, N+1
        # detection on (N_PLUS_ONE=10); the visit's 200 queries are one block, and the
        # N+1 warning it logs when it ends goes to a NullHandler.
        with track("benchmark") as stats:
            _state["stats"] = stats
            yield
        _state.pop("stats")


@contextmanager
def _quiet_queries_logger() -> Iterator[None]:
    import logging

    logger = logging.getLogger(QUERIES_LOGGER)
    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [logging.NullHandler()], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved


def _stats_before() -> object:
    from django_prodkit.queries import get_query_stats

    stats = _state["stats"]
    assert get_query_stats() is stats, "track()'s statistics are not the current ones"
    return (stats.count, stats.db_seconds)


def _stats_counted(before: object, count: int) -> None:
    stats = _state["stats"]
    count_before, seconds_before = before  # type: ignore[misc]
    assert stats.count - count_before == count, (
        f"prodkit counted {stats.count - count_before} queries, not {count}"
    )
    assert stats.db_seconds > seconds_before, "no database time recorded"
    assert stats.slow == 0, f"{stats.slow} slow queries"


def _fast_path_before() -> object:
    """Outside a request: no statistics, and the recorder must see every query."""
    from django_prodkit.queries import get_query_stats
    from django_prodkit.queries import recorder as module

    assert get_query_stats() is None, "a QueryStats is current outside any request"
    slow: list[str] = []
    _state["slow_calls"] = slow
    _state["record_slow"] = module.record_slow
    module.record_slow = lambda *args: slow.append(args[2])  # type: ignore[assignment]
    return 0


def _fast_path_counted(operation: Operation) -> Callable[[object, int], None]:
    def after(before: object, count: int) -> None:
        from django_prodkit.queries import recorder as module

        slow: list[str] = _state.pop("slow_calls")
        try:
            assert not slow, f"{len(slow)} queries taken for slow: {slow[:1]}"
            # The same queries with the recorder's threshold at 0: every one of them
            # reaches its slow path, so the recorder on this connection saw them all.
            recorder = _state["recorder"]
            threshold, recorder.threshold = recorder.threshold, 0.0
            try:
                for _ in range(count):
                    operation()
            finally:
                recorder.threshold = threshold
            assert len(slow) == count, f"prodkit's recorder saw {len(slow)} of {count}"
        finally:
            module.record_slow = _state.pop("record_slow")

    return after


# --- verification ------------------------------------------------------------------------


def _verify(
    key: str,
    expected: object,
    *,
    statements: int = 1,
    wrappers: Sequence[Callable[..., Any]] = (),
    before: Callable[[], object] | None = None,
    after: Callable[[object, int], None] | None = None,
) -> Callable[[Operation], None]:
    """Run 1,000 queries counting statements; check results, wrappers and what was recorded.

    ``before()`` reads what the monitoring has recorded so far; ``after(that, count)``
    asserts that it recorded ``count`` more queries.
    """

    def verify(operation: Operation) -> None:
        from django.db import connection
        from django.db.backends.utils import CursorWrapper

        where = f"case ({key})"
        assert list(connection.execute_wrappers) == list(wrappers), (
            f"{where}: execute_wrappers {connection.execute_wrappers}"
        )
        for _ in range(WARM_UP):
            assert operation() == expected, where
        sql: list[str] = []

        def record(query: object, *args: object) -> None:
            sql.append(str(query))

        recorded = before() if before is not None else None
        with counting(CursorWrapper, "execute", record):
            for _ in range(COUNTED):
                result = operation()
                assert result == expected, f"{where}: {result!r}"
        if after is not None:
            after(recorded, COUNTED)
        assert len(sql) == statements * COUNTED, (
            f"{where}: {len(sql)} statements in {COUNTED} queries, "
            f"expected {statements} each: {sorted(set(sql))[:3]}"
        )
        assert not _slow, f"{where}: {_slow[:1]}"
        COUNTS.setdefault(key, {"sql": len(sql) / COUNTED})

    return verify


def _prometheus_counted(before: object, count: int) -> None:
    moved = _prometheus_executed() - float(before)  # type: ignore[arg-type]
    assert moved == count, f"django_db_execute_total moved by {moved}, not {count}"


def _silk_counted(before: object, count: int) -> None:
    from silk.collector import DataCollector

    queries = list(DataCollector().queries.values())
    assert len(queries) == count, f"silk collected {len(queries)}, not {count}"
    table = row_model()._meta.db_table
    for query in queries[:10]:
        assert table in query["query"], query
        assert query["analysis"], f"no EXPLAIN: {query}"
        assert query["end_time"] >= query["start_time"], query


def _silk_before() -> object:
    from silk.collector import DataCollector

    queries = DataCollector().queries
    queries.clear()
    return 0


# --- the cases ---------------------------------------------------------------------------

# Each group's baseline, for the extra table: the same query without a wrapper.
GROUPS = {"cursor": "a", "orm": "o"}
GROUP_LABELS = {
    "cursor": "Django cursor SELECT 1",
    "orm": "ORM values_list()[:1] by pk",
}


def build() -> list[Case]:
    from django.db import connection

    row_pk()  # the table, before any case's context is entered
    connection.ensure_connection()
    _state["recorder"] = _find_recorder()
    quiet = ExitStack()
    quiet.enter_context(_quiet_queries_logger())
    _state["quiet"] = quiet
    fast_path = _select_one()
    cases = [
        Case(
            key="a",
            label="Django cursor SELECT 1, no wrapper",
            operation=_select_one(),
            context=_wrappers,
            verify=_verify("a", SELECT_RESULT),
        ),
        Case(
            key="r",
            label="ref: (a) + a no-op execute_wrapper",
            operation=_select_one(),
            context=functools.partial(_wrappers, noop_wrapper),
            verify=_verify("r", SELECT_RESULT, wrappers=[noop_wrapper]),
        ),
        Case(
            key="t",
            label="ref: (a) + a wrapper: perf_counter() each side, threshold compare",
            operation=_select_one(),
            context=functools.partial(_wrappers, timing_wrapper),
            verify=_verify("t", SELECT_RESULT, wrappers=[timing_wrapper]),
        ),
        Case(
            key="b",
            label="(a) + prodkit's recorder, outside any request (fast path)",
            operation=fast_path,
            context=functools.partial(_prodkit, scope=False),
            verify=_verify(
                "b",
                SELECT_RESULT,
                wrappers=[_state["recorder"].wrapper],
                before=_fast_path_before,
                after=_fast_path_counted(fast_path),
            ),
        ),
        Case(
            key="c",
            label="(a) + prodkit's recorder in a track() block (per-request stats)",
            operation=_select_one(),
            context=functools.partial(_prodkit, scope=True),
            verify=_verify(
                "c",
                SELECT_RESULT,
                wrappers=[_state["recorder"].wrapper],
                before=_stats_before,
                after=_stats_counted,
            ),
        ),
        Case(
            key="p",
            label="(a) + django-prometheus ExportingCursorWrapper",
            operation=_select_one(),
            context=_prometheus,
            verify=_verify(
                "p",
                SELECT_RESULT,
                before=_prometheus_executed,
                after=_prometheus_counted,
            ),
        ),
        Case(
            key="o",
            label="ORM values_list('text', flat=True)[:1] by pk, no wrapper",
            operation=_orm_query(),
            share=ORM_SHARE,
            context=_wrappers,
            verify=_verify("o", ORM_RESULT),
        ),
        Case(
            key="q",
            label="(o) + prodkit's recorder in a track() block (per-request stats)",
            operation=_orm_query(),
            share=ORM_SHARE,
            context=functools.partial(_prodkit, scope=True),
            verify=_verify(
                "q",
                ORM_RESULT,
                wrappers=[_state["recorder"].wrapper],
                before=_stats_before,
                after=_stats_counted,
            ),
        ),
        Case(
            key="s",
            label="(o) + django-silk SQL interception in a silk request",
            operation=_orm_query(),
            share=ORM_SHARE,
            context=_silk,
            verify=_verify(
                "s",
                ORM_RESULT,
                statements=2,  # the query and silk's EXPLAIN of it
                before=_silk_before,
                after=_silk_counted,
            ),
        ),
    ]
    return cases


def _group(key: str) -> str:
    return "orm" if key in {"o", "q", "s"} else "cursor"


# --- the cross-check: modes alternating one query at a time ------------------------------

# The cursor cases whose set-up is cheap to switch between two queries (silk's patch of a
# class is not: each switch would empty the interpreter's caches of SQLCompiler).
ALTERNATING = ("a", "r", "t", "b", "c", "p")


def _requests_per_round() -> tuple[int, int]:
    """This run's rounds and queries per case per round, read as run.py reads them."""
    import argparse
    import sys

    from benchmarks.run import DEFAULTS, QUICK

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--quick", action="store_true")
    args, _rest = parser.parse_known_args(sys.argv[1:])
    sizes = QUICK if args.quick else DEFAULTS
    return args.rounds or sizes["rounds"], args.requests or sizes["requests"]


def _switches() -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """Per case, what puts its set-up on the connection and takes it off again.

    Every case also sets prodkit's context variable of the current statistics (to the
    block's for (c), to None for the others) and resets it after its query, since setting
    a context variable costs the next query a little (0.1 to 0.8 µs here, measured with an
    unrelated variable): all cases pay the same.
    """
    from django.db import connection

    from django_prodkit.queries.stats import current

    tokens: list[Any] = []

    def switch(
        wrappers: list[Callable[..., Any]],
        stats: bool = False,
        cursor: tuple[Callable[[], None], Callable[[], None]] | None = None,
    ) -> tuple[Callable[[], None], Callable[[], None]]:
        put_cursor, take_cursor = cursor or (_nothing, _nothing)

        def on() -> None:
            connection.execute_wrappers = wrappers
            tokens.append(current.set(_state["stats"] if stats else None))
            put_cursor()

        def off() -> None:
            take_cursor()
            current.reset(tokens.pop())

        return on, off

    recorder = [_state["recorder"].wrapper]
    return {
        "a": switch([]),
        "r": switch([noop_wrapper]),
        "t": switch([timing_wrapper]),
        "b": switch(recorder),
        "c": switch(recorder, stats=True),
        "p": switch([], cursor=_prometheus_switch()),
    }


def _nothing() -> None:
    pass


def _alternate(rounds: int, count: int) -> dict[str, list[RoundStats]]:
    """The research notes' method: each query of each case timed alone, the cases taking
    turns one query at a time (in a new random order each turn), per-round p50s."""
    import gc
    import random
    import statistics

    from django.db import connection

    from django_prodkit.queries import track
    from django_prodkit.queries.stats import current

    switches = _switches()
    keys = list(ALTERNATING)
    order = keys[:]
    shuffle = random.Random(7).shuffle
    operation = _select_one()
    clock = time.perf_counter_ns
    results: dict[str, list[RoundStats]] = {key: [] for key in keys}
    saved = connection.execute_wrappers
    with _quiet_queries_logger(), track("benchmark") as stats:
        outside = current.set(None)  # only (c) runs in the block
        _state["stats"] = stats
        try:
            for _round in range(rounds):
                samples: dict[str, list[int]] = {key: [] for key in keys}
                prometheus_before = _prometheus_executed()
                counted_before = stats.count
                gc.collect()
                for _turn in range(count):
                    # A new order each turn: a case must not always follow the same
                    # one (django-prometheus's switch, for one, leaves the next query
                    # colder caches).
                    shuffle(order)
                    for key in order:
                        on, off = switches[key]
                        on()
                        started = clock()
                        result = operation()
                        elapsed = clock() - started
                        off()
                        samples[key].append(elapsed)
                        assert result == SELECT_RESULT, f"case ({key}): {result!r}"
                assert _prometheus_executed() - prometheus_before == count
                assert stats.count - counted_before == count
                assert not _slow, _slow[:1]
                for key, values in samples.items():
                    results[key].append(
                        RoundStats(
                            statistics.median(values) / 1e3,
                            statistics.fmean(values) / 1e3,
                        )
                    )
        finally:
            current.reset(outside)
            _state.pop("stats", None)
            connection.execute_wrappers = saved
    return results


# --- the extra report --------------------------------------------------------------------


def _table(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, dict[str, object]], dict[str, float]]:
    """Each case against the same query with no wrapper: the table, its data, the Δs."""
    header = [
        "case",
        "p50 µs/query [min–max]",
        "Δ vs no wrapper µs [min–max]",
        "× no wrapper",
        "SQL / query",
    ]
    body: list[list[str]] = []
    data: dict[str, dict[str, object]] = {}
    deltas: dict[str, float] = {}
    for group, baseline in GROUPS.items():
        members = [case for case in cases if _group(case.key) == group]
        if not members:
            continue
        for row in summarise(members, dict(stats), baseline):
            deltas[row.key] = row.delta_us.median
            p50, span = row.p50_us, row.delta_us
            body.append(
                [
                    f"({row.key}) {row.label}",
                    f"{p50.median:,.2f} [{p50.low:,.2f}–{p50.high:,.2f}]",
                    "—"
                    if row.key == baseline
                    else f"{_signed2(span.median)} [{_signed2(span.low)} – "
                    f"{_signed2(span.high)}]",
                    f"{row.ratio:.3f}",
                    f"{COUNTS.get(row.key, {}).get('sql', float('nan')):.2f}",
                ]
            )
            data[row.key] = {
                "group": group,
                "p50_us": round(p50.median, 3),
                "delta_vs_no_wrapper_us": round(span.median, 3),
                "delta_vs_no_wrapper_range_us": [
                    round(span.low, 3),
                    round(span.high, 3),
                ],
                "ratio_vs_no_wrapper": round(row.ratio, 4),
                "sql_per_query": COUNTS.get(row.key, {}).get("sql"),
            }
    return markdown(header, body), data, deltas


def extra(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, object]]:
    """Each case against the same query with no wrapper, in visits and alternating one
    query at a time; statements; target T3."""
    database = server_label(DATABASE)  # the table is dropped at exit: metrics reads it
    if "quiet" in _state:
        _state.pop("quiet").close()
    visits, visits_data, visits_deltas = _table(cases, stats)
    rounds, count = _requests_per_round()
    alternating = _alternate(rounds, count)
    turns, turns_data, turns_deltas = _table(
        [case for case in cases if case.key in ALTERNATING], alternating
    )
    text = "\n".join(
        [
            f"database: {database}",
            "Δ and × are against the same query with no wrapper ((a) for the cursor, "
            "(o) for the ORM), paired per round; statements per query counted at "
            f"Django's CursorWrapper over {COUNTED:,} queries per case before timing.",
            "",
            "In visits of the harness (as in the table above):",
            "",
            visits,
            "",
            f"Alternating one query at a time (the research notes' method): {rounds} "
            f"rounds of {count:,} queries per case, the cases taking turns query by "
            "query, each query timed alone, after the run above:",
            "",
            turns,
            "",
            _t3(turns_deltas, "alternating"),
            _t3(visits_deltas, "in visits"),
        ]
    )
    return text, {
        "database": database,
        "visits": visits_data,
        "alternating": {"rounds": rounds, "queries": count, "cases": turns_data},
    }


def _signed2(value: float) -> str:
    text = f"{value:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text.replace("-", "−")


def _t3(deltas: Mapping[str, float], how: str) -> str:
    """Target T3 of the performance baselines on prodkit's recorder.

    T3's bound was set on the research notes' machine; it is also given scaled by the
    reference wrapper (t), measured there and here, since CPU costs scale with the machine.
    """
    postgres = DATABASE.postgres_url is not None
    limit = T3_PG_US if postgres else T3_CPU_US
    what = (
        f"PostgreSQL, Δ p50 ≤ {limit:g} µs/query"
        if postgres
        else f"SQLite in memory (CPU only), ≤ {limit:g} µs/query"
    )
    column = 1 if postgres else 0
    refs = ", ".join(
        f"({key}) {_signed2(deltas[key])} (research notes {RESEARCH[key][column]:+.2f})"
        for key in RESEARCH
        if key in deltas
    )
    keys = [key for key in ("b", "c", "q") if key in deltas]
    verdicts = [
        f"({key}) {_signed2(deltas[key])} {'yes' if deltas[key] <= limit else 'NO'}"
        for key in keys
    ]
    one_statement = all(COUNTS.get(key, {}).get("sql") == 1 for key in keys)
    scale = deltas["t"] / RESEARCH["t"][column] if deltas.get("t", 0) > 0 else None
    scaled = (
        f"; scaled by (t) ({scale:.1f}× the research notes' machine): ≤ "
        f"{limit * scale:.2f} µs: "
        + ", ".join(
            f"({key}) {'yes' if deltas[key] <= limit * scale else 'NO'}" for key in keys
        )
        if scale is not None
        else ""
    )
    return (
        f"T3 ({how}) on {what}: {', '.join(verdicts)}{scaled}; 0 extra queries "
        f"{'yes' if one_statement else 'NO'}. References: {refs}."
    )


def _peers_missing() -> list[str]:
    return [
        name
        for name, where in (
            ("django-prometheus", "django_prometheus"),
            ("django-silk", "silk"),
        )
        if importlib.util.find_spec(where) is None
    ]


_missing = _peers_missing()
_distributions = [
    "django-prodkit",
    "django-prometheus",
    "prometheus-client",
    "django-silk",
]
if DATABASE.postgres_url is not None:
    _distributions.append("psycopg")

SPEC = Benchmark(
    name="queries",
    title="Query monitoring, per query: prodkit's recorder vs no wrapper, django-prometheus and django-silk",
    baseline="a",
    installed_apps=["django_prodkit", "silk", APP_LABEL],
    settings={"DATABASES": {"default": DATABASE.settings}},
    distributions=_distributions,
    build=build,
    extra=extra,
    skip=(f"needs {' and '.join(_missing)} (the bench group)" if _missing else None),
)
