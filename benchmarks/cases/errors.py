"""Error capture: prodkit on a 2xx response and on a 500, against Django's own 500
handling, sentry-sdk and django-db-logger, in the same run.

Every case runs behind startproject's 7 default middleware classes, with Django's
``django`` logger sent to a ``NullHandler`` (so every arm pays for Django's log record
of a 500, and none for writing it) and no 500 template (Django's built-in answer). What
each arm adds is switched on only during its own visits:

- prodkit: its ``got_request_exception`` receiver (connected by ``apps.ready``, and
  disconnected for the other arms) and an ``ErrorLogHandler`` on the ``django`` logger,
  which sees Django's record of each 500 and must not count it a second time;
- sentry-sdk: ``sentry_sdk.init()`` with its ``DjangoIntegration`` and default
  integrations, no tracing, and a transport that counts envelopes and drops them. The
  functions it patches (Django's handlers, ``Signal``, ``CursorWrapper``, ``Logger``,
  ``threading`` …) and the receiver it connects are found by comparing them before and
  after ``init()``, and put in place only during sentry's visits and while its handlers
  are built, so the other arms run Django's own code;
- django-db-logger: its ``DatabaseLogHandler`` on the ``django`` logger at ``ERROR``.

A 500 is sent to a view that raises a ``RuntimeError`` with either the same message
every time (one group for prodkit) or a message with a word of its own (a new
fingerprint, so a new group, every time). prodkit's writer stores groups from its own
thread; each prodkit visit ends with ``errors.flush()`` outside the timed requests, so
that its database work never lands in another case's visit, and the CPU time the
writer spent is reported per error next to the timings.

Every case times a whole request through a ``WSGIHandler`` of its own (an ``operation``
for the harness, so that the 2xx and the 500 cases are timed alike), built while its arm
is switched on. Before and after timing, each case counts what it does under counters
that see every thread (SQL statements, cache calls, Sentry envelopes, writes of
prodkit's writer) and asserts it: no writes of any kind on a 2xx, and one stored
occurrence per error.
"""

from __future__ import annotations

import atexit
import gc
import importlib.util
import io
import itertools
import logging
import string
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

from django.http import HttpRequest, HttpResponse
from django.urls import path

from benchmarks import project
from benchmarks.cases.request_id import DEFAULT_MIDDLEWARE
from benchmarks.counters import counting, database_from_env, server_label
from benchmarks.harness import Benchmark, Case, Operation, RoundStats, base_environ
from benchmarks.report import markdown, signed, summarise

URLCONF = __name__
NEW_PATH = "/boom/new/"
SAME_PATH = "/boom/same/"
SAME_MESSAGE = "boom: the same error every time"
SERVER_ERROR = b"<h1>Server Error (500)</h1>"  # in Django's page when no 500.html
COUNTED_OK = 100  # 2xx requests counted per case, before and after timing
COUNTED_ERRORS = 1000  # errors counted per case, before and after timing
WARM_UP = 3
ERRORS_PER_ROUND = 5_000
PRODKIT_UID = "prodkit.errors.request"  # apps.ready's dispatch_uid
T5_US = 2.0
SQL_WRITES = {"INSERT", "UPDATE", "DELETE"}
SHARED_MEMORY = "file:prodkit-bench-errors?mode=memory&cache=shared"


def _database() -> Any:
    found = database_from_env("errors", 600)
    if found.postgres_url is not None:
        return found
    # prodkit's writer thread has a connection of its own: an in-memory SQLite database
    # must be shared between connections, as Django's test runner shares it.
    return found._replace(
        settings={**found.settings, "NAME": SHARED_MEMORY},
        label="SQLite in memory, shared cache (set DATABASE_URL for PostgreSQL)",
    )


DATABASE = _database()

_kinds = itertools.count()


def _word(number: int) -> str:
    """``number`` in letters: prodkit's fingerprint strips numbers and ids, not words."""
    letters = []
    while True:
        number, digit = divmod(number, 26)
        letters.append(string.ascii_lowercase[digit])
        if not number:
            return "".join(reversed(letters))


def boom_new(request: HttpRequest) -> HttpResponse:
    # A word of its own in each message: a new fingerprint, so a new group, each time.
    # (A class created per request would also do, but every isinstance() check against
    # an ABC then misses its cache, which real errors do not.)
    raise RuntimeError(
        f"boom: an error never seen before, of kind {_word(next(_kinds))}"
    )


def boom_same(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SAME_MESSAGE)


urlpatterns = [
    path(project.PATH.strip("/") + "/", project.json_view),
    path(NEW_PATH.strip("/") + "/", boom_new),
    path(SAME_PATH.strip("/") + "/", boom_same),
]

# Every case carries the same settings, so that all pay the same refill of prodkit's
# settings when a visit's override_settings() begins; (k) turns the locals off.
SETTINGS: dict[str, object] = {"ROOT_URLCONF": URLCONF, "PRODKIT": {"ERRORS": {}}}
NO_LOCALS: dict[str, object] = {
    "ROOT_URLCONF": URLCONF,
    "PRODKIT": {"ERRORS": {"CAPTURE_LOCALS": False}},
}

# Filled in by build() and by the verifiers.
COUNTS: dict[str, dict[str, float]] = {}
ENVELOPES: Counter[str] = Counter()  # by item type, over the whole run
WRITER_NS = [0]  # CPU time prodkit's writer thread spent storing
_tables: list[type[Any]] = []
_state: dict[str, Any] = {}


# --- set-up --------------------------------------------------------------------------


def _create_tables() -> None:
    from django.db import connection
    from django_db_logger.models import StatusLog

    from django_prodkit.models import ErrorGroup

    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in (ErrorGroup, StatusLog):
            if model._meta.db_table in existing:  # left behind by a run that failed
                editor.delete_model(model)
            editor.create_model(model)
            _tables.append(model)
    atexit.register(_drop_tables)


def _drop_tables() -> None:
    from django.db import connection

    from django_prodkit.errors import flush

    if not _tables:
        return
    flush(10)
    with connection.schema_editor() as editor:
        for model in _tables:
            editor.delete_model(model)
    _tables.clear()


def _quiet_django_logger() -> None:
    """Django's records go to a NullHandler: each 500 still makes its log record."""
    logger = logging.getLogger("django")
    _state["django_handlers"] = logger.handlers[:]
    logger.handlers = [logging.NullHandler()]


def _restore_django_logger() -> None:
    if "django_handlers" in _state:
        logging.getLogger("django").handlers = _state.pop("django_handlers")


class _Patch(NamedTuple):
    owner: object  # a module or a class
    name: str
    original: object
    patched: object


def _attributes() -> dict[tuple[int, str], tuple[object, str, object]]:
    """Every attribute of every loaded module and of the classes defined in it."""
    found: dict[tuple[int, str], tuple[object, str, object]] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.startswith("sentry_sdk"):
            continue
        for name, value in list(vars(module).items()):
            found[id(module), name] = (module, name, value)
            if isinstance(value, type) and value.__module__ == module_name:
                for attribute, member in list(vars(value).items()):
                    found[id(value), attribute] = (value, attribute, member)
    return found


def _receivers() -> dict[Any, list[Any]]:
    from django.dispatch import Signal

    return {
        signal: list(signal.receivers)
        for signal in gc.get_objects()
        if isinstance(signal, Signal)
    }


def _init_sentry() -> None:
    """Start sentry-sdk, record what it changed in other modules, and undo it."""
    import django.core.handlers.asgi
    import django.core.handlers.wsgi
    import django.shortcuts  # noqa: F401
    import sentry_sdk
    from sentry_sdk.envelope import Envelope
    from sentry_sdk.integrations import iter_default_integrations
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.transport import Transport

    class CountingTransport(Transport):
        """Counts each envelope item the SDK would send, and drops it: no network."""

        def capture_envelope(self, envelope: Envelope) -> None:
            for item in envelope.items:
                ENVELOPES[item.type or "?"] += 1

    # Import whatever the default integrations patch, so the snapshot has the originals.
    for _integration in iter_default_integrations(with_auto_enabling_integrations=True):
        pass
    before, receivers_before = _attributes(), _receivers()
    sentry_sdk.init(
        # Never contacted: the transport drops every envelope.
        dsn="https://public@sentry.invalid/1",
        integrations=[DjangoIntegration()],
        transport=CountingTransport(),
    )
    after = _attributes()
    _state["sentry"] = sentry_sdk.get_client()
    assert _state["sentry"].is_active()
    _state["sentry_patches"] = [
        _Patch(owner, name, before[key][2], value)
        for key, (owner, name, value) in after.items()
        if key in before and before[key][2] is not value
    ]
    _state["sentry_receivers"] = {
        signal: [item for item in receivers if item not in receivers_before[signal]]
        for signal, receivers in _receivers().items()
        if signal in receivers_before and receivers != receivers_before[signal]
    }
    assert _state["sentry_patches"]
    assert _state["sentry_receivers"]
    _switch_sentry(on=False)


def _switch_sentry(*, on: bool) -> None:
    import sentry_sdk

    for patch in _state["sentry_patches"]:
        setattr(patch.owner, patch.name, patch.patched if on else patch.original)
    for signal, added in _state["sentry_receivers"].items():
        with signal.lock:
            kept = [item for item in signal.receivers if item not in added]
            signal.receivers = kept + added if on else kept
            signal.sender_receivers_cache.clear()
    sentry_sdk.get_global_scope().set_client(_state["sentry"] if on else None)


def _time_writer() -> None:
    """Add up the CPU time prodkit's writer thread spends storing batches."""
    from django_prodkit.errors.writer import writer

    original = writer._write

    def timed(batch: Any) -> None:
        started = time.thread_time_ns()
        try:
            original(batch)
        finally:
            WRITER_NS[0] += time.thread_time_ns() - started

    writer._write = timed  # type: ignore[method-assign]


# --- what each arm switches on during its visits -------------------------------------


@contextmanager
def _prodkit() -> Iterator[None]:
    from django.core.signals import got_request_exception

    from django_prodkit.errors import ErrorLogHandler, flush
    from django_prodkit.errors.capture import request_failed

    logger = logging.getLogger("django")
    handler = ErrorLogHandler()
    got_request_exception.connect(request_failed, dispatch_uid=PRODKIT_UID)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        got_request_exception.disconnect(dispatch_uid=PRODKIT_UID)
        # What this visit captured is stored now, outside the timed requests.
        assert flush(60), "prodkit's writer did not finish in 60 s"


@contextmanager
def _sentry() -> Iterator[None]:
    _switch_sentry(on=True)
    try:
        yield
    finally:
        _switch_sentry(on=False)


@contextmanager
def _db_logger() -> Iterator[None]:
    from django_db_logger.db_log_handler import DatabaseLogHandler

    logger = logging.getLogger("django")
    handler = DatabaseLogHandler(logging.ERROR)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


ARMS: dict[str, Callable[[], Any] | None] = {
    "django": None,
    "prodkit": _prodkit,
    "sentry": _sentry,
    "db-logger": _db_logger,
}


# --- counting ------------------------------------------------------------------------


@contextmanager
def _counting() -> Iterator[Counter[str]]:
    """SQL statements (all threads; writes; on this thread), cache calls, envelopes."""
    from django.core.cache.backends.locmem import LocMemCache
    from django.db.backends.utils import CursorWrapper

    from django_prodkit.errors.writer import writer

    events: Counter[str] = Counter()
    here = threading.get_ident()

    def sql(query: object, *args: object) -> None:
        events["sql"] += 1
        if threading.get_ident() == here:
            events["sql_request_thread"] += 1
        if str(query).lstrip().split(None, 1)[0].upper() in SQL_WRITES:
            events["db_writes"] += 1

    def cache(kind: str) -> Callable[..., None]:
        def record(*args: object) -> None:
            events[f"cache_{kind}"] += 1

        return record

    envelopes_before = sum(ENVELOPES.values())
    events_before = ENVELOPES["event"]
    writes_before = writer.writes
    dropped_before = writer.dropped
    writer_ns_before = WRITER_NS[0]
    with ExitStack() as stack:
        stack.enter_context(counting(CursorWrapper, "execute", sql))
        stack.enter_context(counting(CursorWrapper, "executemany", sql))
        for name in ("add", "set", "incr", "touch", "delete"):
            stack.enter_context(counting(LocMemCache, name, cache("writes")))
        for name in ("get", "has_key"):
            stack.enter_context(counting(LocMemCache, name, cache("reads")))
        yield events
    events["envelopes"] = sum(ENVELOPES.values()) - envelopes_before
    events["sentry_events"] = ENVELOPES["event"] - events_before
    events["writer_writes"] = writer.writes - writes_before
    events["writer_dropped"] = writer.dropped - dropped_before
    events["writer_us"] = (WRITER_NS[0] - writer_ns_before) // 1000


def _stored() -> dict[str, int]:
    from django.db.models import Sum
    from django_db_logger.models import StatusLog

    from django_prodkit.models import ErrorGroup

    groups = ErrorGroup.objects.aggregate(total=Sum("count"))
    return {
        "groups": ErrorGroup.objects.count(),
        "occurrences": groups["total"] or 0,
        "same": sum(
            ErrorGroup.objects.filter(message=SAME_MESSAGE).values_list(
                "count", flat=True
            )
        ),
        "log_rows": StatusLog.objects.count(),
    }


def _assert_arm(arm: str, where: str) -> None:
    """Exactly ``arm``'s capture is switched on (verifiers run inside the visit)."""
    import sentry_sdk
    from django.core.signals import got_request_exception
    from django_db_logger.db_log_handler import DatabaseLogHandler

    from django_prodkit.errors import ErrorLogHandler
    from django_prodkit.errors.capture import request_failed

    handlers = {type(handler) for handler in logging.getLogger("django").handlers}
    receivers = got_request_exception._live_receivers(None)[0]
    found = {
        "prodkit": request_failed in receivers and ErrorLogHandler in handlers,
        "sentry": sentry_sdk.get_client().is_active(),
        "db-logger": DatabaseLogHandler in handlers,
    }
    expected = {name: name == arm for name in found}
    assert found == expected, f"{where}: {found}"


def _verify_ok(key: str, arm: str) -> Callable[[Operation], None]:
    """A 2xx: nothing written anywhere, nothing sent, nothing captured."""

    def verify(operation: Operation) -> None:
        _assert_arm(arm, f"case ({key})")
        for _ in range(WARM_UP):
            operation()
        before = _stored()
        with _counting() as events:
            for _ in range(COUNTED_OK):
                status, body = operation()  # type: ignore[misc]
                assert (status[:3], body) == ("200", project.BODY), (status, body)
        where = f"case ({key}): {dict(events)}"
        assert _stored() == before, f"{where}: {_stored()} vs {before}"
        for name in ("sql", "cache_writes", "sentry_events", "writer_writes"):
            assert events[name] == 0, where
        COUNTS.setdefault(key, _per(events, COUNTED_OK))

    return verify


def _verify_errors(key: str, arm: str, *, new: bool) -> Callable[[Operation], None]:
    """A 500 every time, and what the arm stores of it: exactly one occurrence each."""

    def verify(operation: Operation) -> None:
        from django_prodkit.errors import flush

        _assert_arm(arm, f"case ({key})")
        for _ in range(WARM_UP):
            operation()
        assert flush(60)
        before = _stored()
        with _counting() as events:
            for _ in range(COUNTED_ERRORS):
                status, body = operation()  # type: ignore[misc]
                assert status[:3] == "500", status
                assert SERVER_ERROR in body, body
            assert flush(60)
        after = _stored()
        added = {name: after[name] - before[name] for name in after}
        where = f"case ({key}): {added}, {dict(events)}"
        expected = {"groups": 0, "occurrences": 0, "same": 0, "log_rows": 0}
        if arm == "prodkit":
            expected["occurrences"] = COUNTED_ERRORS
            expected["groups"] = COUNTED_ERRORS if new else 0
            expected["same"] = 0 if new else COUNTED_ERRORS
            assert events["writer_dropped"] == 0, where
            if new:
                assert events["writer_writes"] == COUNTED_ERRORS, where
        elif arm == "db-logger":
            expected["log_rows"] = COUNTED_ERRORS
        assert added == expected, where
        assert events["sentry_events"] == (COUNTED_ERRORS if arm == "sentry" else 0), (
            where
        )
        assert events["sql_request_thread"] == (
            COUNTED_ERRORS if arm == "db-logger" else 0
        ), where
        COUNTS.setdefault(key, _per(events, COUNTED_ERRORS))

    return verify


def _per(events: Counter[str], count: int) -> dict[str, float]:
    return {
        "counted": count,
        "sql_request_thread": events["sql_request_thread"] / count,
        "db_writes_per_1000": events["db_writes"] * 1000 / count,
        "writer_writes_per_1000": events["writer_writes"] * 1000 / count,
        "cache_writes_per_1000": events["cache_writes"] * 1000 / count,
        "sentry_events_per_1000": events["sentry_events"] * 1000 / count,
        "writer_us_per_error": events["writer_us"] / count,
    }


# --- the cases -----------------------------------------------------------------------


def _request(path_info: str, arm: str, settings: Mapping[str, object]) -> Operation:
    """Send one request to ``path_info`` through a handler of its own; (status, body).

    The handler is built with the arm switched on: sentry-sdk wraps each middleware as
    Django loads it.
    """
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=list(DEFAULT_MIDDLEWARE), **settings):
        if arm == "sentry":
            _switch_sentry(on=True)
        try:
            handler = WSGIHandler()
        finally:
            if arm == "sentry":
                _switch_sentry(on=False)
    base = base_environ({"PATH_INFO": path_info})
    status = [""]

    def start_response(
        line: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], None]:
        status[0] = line
        return _discard

    def send() -> tuple[str, bytes]:
        environ = base.copy()
        environ["wsgi.input"] = io.BytesIO()
        response = handler(environ, start_response)
        try:
            body = b"".join(response)
        finally:
            response.close()
        return status[0], body

    return send


def _discard(data: bytes) -> None:
    pass


LABELS = {
    "django": "Django's default MIDDLEWARE, no error capture",
    "prodkit": "+ prodkit (signal receiver and ErrorLogHandler)",
    "sentry": "+ sentry-sdk DjangoIntegration (events dropped)",
    "db-logger": "+ django-db-logger DatabaseLogHandler",
}
# key -> (arm, what is sent, settings)
PLAN: dict[str, tuple[str, str, dict[str, object]]] = {
    "a": ("django", "ok", SETTINGS),
    "r": ("django", "ok", SETTINGS),
    "b": ("prodkit", "ok", SETTINGS),
    "c": ("sentry", "ok", SETTINGS),
    "d": ("db-logger", "ok", SETTINGS),
    "e": ("django", "new", SETTINGS),
    "f": ("prodkit", "new", SETTINGS),
    "g": ("sentry", "new", SETTINGS),
    "h": ("db-logger", "new", SETTINGS),
    "i": ("django", "same", SETTINGS),
    "j": ("prodkit", "same", SETTINGS),
    "k": ("prodkit", "same", NO_LOCALS),
    "l": ("sentry", "same", SETTINGS),
    "m": ("db-logger", "same", SETTINGS),
}
PATHS = {"ok": project.PATH, "new": NEW_PATH, "same": SAME_PATH}
WHAT = {
    "ok": "2xx JSON view",
    "new": "500, a new error (fingerprint) per request",
    "same": "500, the same error every request",
}
# Each shape's Django arm and sentry arm, for the second table.
SHAPES = {"ok": ("a", "c"), "new": ("e", "g"), "same": ("i", "l")}


def _label(key: str) -> str:
    arm, shape, settings = PLAN[key]
    django_key = SHAPES[shape][0]
    if key == "r":
        return f"ref: ({django_key}) again, the resolution of Δ"
    if arm == "django":
        return f"{WHAT[shape]}: {LABELS[arm]}"
    label = f"({django_key}) {LABELS[arm]}"
    return label + (", CAPTURE_LOCALS off" if settings is NO_LOCALS else "")


def build() -> list[Case]:
    from django.core.signals import got_request_exception

    _quiet_django_logger()
    _create_tables()
    # apps.ready connected prodkit's receiver for the whole process: only prodkit's
    # visits have it, so that the other arms do not pay for it.
    assert got_request_exception.disconnect(dispatch_uid=PRODKIT_UID)
    _init_sentry()
    _time_writer()
    cases: list[Case] = []
    for key, (arm, shape, settings) in PLAN.items():
        verify = (
            _verify_ok(key, arm)
            if shape == "ok"
            else _verify_errors(key, arm, new=shape == "new")
        )
        cases.append(
            Case(
                key=key,
                label=_label(key),
                settings=settings,
                context=ARMS[arm],
                operation=_request(PATHS[shape], arm, settings),
                verify=verify,
            )
        )
    return cases


# --- the extra report ----------------------------------------------------------------


def _count(value: float) -> str:
    if value != value:  # NaN: not counted
        return "?"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def extra(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, object]]:
    """Each shape against Django alone and against sentry-sdk; counts; target T5."""
    from django_prodkit.errors.writer import writer

    database = server_label(DATABASE)
    _drop_tables()
    _restore_django_logger()
    by_key = {case.key: case for case in cases}
    header = [
        "case",
        "p50 µs",
        "Δ vs Django µs [min–max]",
        "× Django",
        "× sentry-sdk",
        "SQL on the request thread",
        "DB writes / 1000",
        "cache writes / 1000",
        "Sentry events / 1000",
        "writer thread CPU µs / error",
    ]
    body: list[list[str]] = []
    data: dict[str, object] = {}
    deltas: dict[str, float] = {}
    for shape, (django_key, sentry_key) in SHAPES.items():
        group = [case for case in cases if PLAN[case.key][1] == shape]
        rows = summarise(group, dict(stats), django_key)
        peer_rows = summarise(group, dict(stats), sentry_key)
        for row, peer_row in zip(rows, peer_rows, strict=True):
            counts = COUNTS.get(row.key, {})
            deltas[row.key] = row.delta_us.median
            delta = (
                "—"
                if row.key == django_key
                else f"{signed(row.delta_us.median)} "
                f"[{signed(row.delta_us.low)} – {signed(row.delta_us.high)}]"
            )
            body.append(
                [
                    f"({row.key}) {by_key[row.key].label}",
                    f"{row.p50_us.median:,.1f}",
                    delta,
                    f"{row.ratio:.2f}",
                    f"{peer_row.ratio:.2f}",
                    _count(counts.get("sql_request_thread", float("nan"))),
                    _count(counts.get("db_writes_per_1000", float("nan"))),
                    _count(counts.get("cache_writes_per_1000", float("nan"))),
                    _count(counts.get("sentry_events_per_1000", float("nan"))),
                    f"{counts.get('writer_us_per_error', 0.0):,.1f}"
                    if PLAN[row.key][0] == "prodkit"
                    else "—",
                ]
            )
            data[row.key] = {
                "delta_vs_django_us": round(row.delta_us.median, 3),
                "ratio_vs_django": round(row.ratio, 4),
                "ratio_vs_sentry": round(peer_row.ratio, 4),
                "counts": counts,
            }
    t5_writes = all(
        COUNTS.get("b", {}).get(name, 1) == 0
        for name in ("db_writes_per_1000", "cache_writes_per_1000")
    )
    t5 = (
        f"T5 on (b): 0 DB or network writes on a 2xx {'yes' if t5_writes else 'NO'}; "
        f"≤ {T5_US:.0f} µs over Django: {signed(deltas['b'])} µs "
        f"{'yes' if deltas['b'] <= T5_US else 'NO'}."
    )
    envelopes = ", ".join(
        f"{count} {kind}" for kind, count in sorted(ENVELOPES.items())
    )
    text = "\n".join(
        [
            f"database: {database}",
            "Δ and × are paired per round against Django's own handling of the same "
            "request ((a), (e), (i)) and against sentry-sdk's ((c), (g), (l)). Counts "
            f"over {COUNTED_OK} requests (2xx) or {COUNTED_ERRORS:,} errors per case "
            "before timing, in every thread: SQL statements on the request's thread per "
            "request, INSERT/UPDATE/DELETE statements, cache writes and Sentry events "
            "per 1,000 requests, and the CPU time prodkit's writer thread spent "
            "storing them per request.",
            "",
            markdown(header, body),
            "",
            t5,
            f"prodkit's writer over the run: {writer.writes:,} writes, "
            f"{writer.dropped} occurrences dropped; Sentry envelope items over the run: "
            f"{envelopes or 'none'}.",
        ]
    )
    return text, {"database": database, "cases": data, "t5": t5}


_missing = [
    name
    for name, where in (
        ("sentry-sdk", "sentry_sdk"),
        ("django-db-logger", "django_db_logger"),
    )
    if importlib.util.find_spec(where) is None
]
_distributions = ["django-prodkit", "sentry-sdk", "django-db-logger"]
if DATABASE.postgres_url is not None:
    _distributions.append("psycopg")

SPEC = Benchmark(
    name="errors",
    title="Error capture: prodkit vs Django's own 500 handling, sentry-sdk and django-db-logger",
    baseline="a",
    installed_apps=["django_prodkit", "django_db_logger"],
    settings={"DATABASES": {"default": DATABASE.settings}},
    distributions=_distributions,
    build=build,
    extra=extra,
    requests=ERRORS_PER_ROUND,
    skip=(
        f"needs {' and '.join(_missing)} (the sentry extra and the bench group)"
        if _missing
        else None
    ),
)
