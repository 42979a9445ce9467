"""Query statistics of one request or one block: count, database time, repeated SQL.

The recorder adds every query it times to the :class:`QueryStats` in the current context,
if any: :class:`~django_prodkit.queries.QueriesMiddleware` sets one per request and
:func:`track` one per block (a Celery task, a management command). Repeats are counted
by the raw SQL string (the ORM repeats the very same text, with ``%s`` placeholders, in an
N+1 loop); only a string that crosses ``N_PLUS_ONE`` is normalised, once, and the line of
the project's code that ran it is found then.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from types import FrameType

from django.http import HttpRequest

from django_prodkit import conf
from django_prodkit.logs import get_request_id
from django_prodkit.project_code import is_project_file
from django_prodkit.queries.fingerprint import fingerprint, normalise

__all__ = ["QueryStats", "RepeatedQuery", "get_query_stats", "report_repeats", "track"]

logger = logging.getLogger("django_prodkit.queries")

current: ContextVar[QueryStats | None] = ContextVar("prodkit_query_stats", default=None)

_REQUEST_ATTRIBUTE = "_prodkit_query_stats"
# Distinct SQL strings counted per request or block: a loop of raw SQL with inlined
# values would otherwise grow the table by one entry per query.
_MAX_DISTINCT = 10_000


@dataclasses.dataclass(slots=True)
class RepeatedQuery:
    """SQL that ran more than ``N_PLUS_ONE`` times in one request or block."""

    sql: str
    fingerprint: str
    count: int
    filename: str
    line: int
    function: str

    @property
    def call_site(self) -> str:
        """``file:line`` of the innermost frame in the project's own code."""
        return f"{self.filename}:{self.line}" if self.filename else "?"


class QueryStats:
    """What one request (or one :func:`track` block) asked of the databases."""

    __slots__ = (
        "_by_sql",
        "_ended",
        "_limit",
        "_repeats",
        "count",
        "db_seconds",
        "name",
        "request",
        "slow",
        "started",
    )

    def __init__(
        self,
        name: str | None = None,
        *,
        n_plus_one: int | None = None,
        request: HttpRequest | None = None,
    ) -> None:
        self.name = name
        self.request = request
        self.count = 0
        self.slow = 0
        self.db_seconds = 0.0
        self.started = time.perf_counter()
        self._ended: float | None = None
        # The count at which a repeat is reported: one more than N_PLUS_ONE.
        self._limit = n_plus_one + 1 if n_plus_one is not None else 0
        self._by_sql: dict[str, int] = {}
        self._repeats: dict[str, RepeatedQuery] = {}

    def __repr__(self) -> str:
        return f"<QueryStats {self.count} queries, {self.db_ms:.1f} ms>"

    def record(self, sql: str, seconds: float) -> None:
        """Count one query of ``sql`` that took ``seconds``."""
        self.count += 1
        self.db_seconds += seconds
        if not self._limit:
            return
        by_sql = self._by_sql
        seen = by_sql.get(sql)
        if seen is None:
            if len(by_sql) < _MAX_DISTINCT:
                by_sql[sql] = 1
            return
        by_sql[sql] = seen + 1
        if seen + 1 == self._limit:
            self._repeated(sql)

    def _repeated(self, sql: str) -> None:
        normalised = normalise(sql)
        filename, line, function = _call_site(sys._getframe(1))
        self._repeats[sql] = RepeatedQuery(
            normalised, fingerprint(normalised), self._limit, filename, line, function
        )

    def stop(self) -> None:
        if self._ended is None:
            self._ended = time.perf_counter()

    @property
    def db_ms(self) -> float:
        """Milliseconds spent in the database."""
        return self.db_seconds * 1000

    @property
    def total_ms(self) -> float:
        """Milliseconds from the start to the end (or to now, while it runs)."""
        end = self._ended if self._ended is not None else time.perf_counter()
        return (end - self.started) * 1000

    @property
    def app_ms(self) -> float:
        """``total_ms`` less ``db_ms``: the time spent outside the database."""
        return max(self.total_ms - self.db_ms, 0.0)

    @property
    def repeated(self) -> list[RepeatedQuery]:
        """The N+1 candidates so far, with how many times each ran."""
        for sql, repeat in self._repeats.items():
            repeat.count = self._by_sql[sql]
        return list(self._repeats.values())

    @property
    def route(self) -> str | None:
        """The route pattern of the request, else the name given to :func:`track`."""
        match = getattr(self.request, "resolver_match", None)
        if match is not None:
            return str(match.route)
        return self.name

    def add(self, other: QueryStats) -> None:
        """Count the queries of a nested block in this one too."""
        self.count += other.count
        self.db_seconds += other.db_seconds
        self.slow += other.slow


def _call_site(frame: FrameType | None) -> tuple[str, int, str]:
    while frame is not None:
        code = frame.f_code
        if is_project_file(code.co_filename):
            return code.co_filename, frame.f_lineno, code.co_name
        frame = frame.f_back
    return "", 0, ""


def get_query_stats(request: HttpRequest | None = None) -> QueryStats | None:
    """The statistics of ``request``, or of the request or block running in this context.

    ``None`` outside :class:`~django_prodkit.queries.QueriesMiddleware` and :func:`track`.
    """
    if request is None:
        return current.get()
    stats: QueryStats | None = getattr(request, _REQUEST_ATTRIBUTE, None)
    return stats


def start(request: HttpRequest | None = None, name: str | None = None) -> QueryStats:
    stats = QueryStats(name, n_plus_one=conf.get().queries.n_plus_one, request=request)
    if request is not None:
        setattr(request, _REQUEST_ATTRIBUTE, stats)
    return stats


@contextlib.contextmanager
def track(name: str | None = None, *, report: bool = True) -> Iterator[QueryStats]:
    """Count the queries of a block, as the middleware does for a request.

    For Celery tasks, management commands and scripts::

        with queries.track("nightly-export") as stats:
            export()
        print(stats.count, stats.db_ms)

    ``name`` stands in for the route in slow-query records. With ``report``, repeated
    SQL (``N_PLUS_ONE``) is logged when the block ends. A nested block's queries count in
    the enclosing one too. When ``QUERIES.ENABLED`` is off, the stats stay empty.
    """
    if not conf.get().queries.enabled:
        yield QueryStats(name)
        return
    stats = start(name=name)
    outer = current.get()
    token = current.set(stats)
    try:
        yield stats
    finally:
        current.reset(token)
        stats.stop()
        if outer is not None:
            outer.add(stats)
        if report:
            report_repeats(stats)


def report_repeats(stats: QueryStats, request: HttpRequest | None = None) -> None:
    """Log one WARNING per SQL repeated past ``N_PLUS_ONE``."""
    repeated = stats.repeated
    if not repeated:
        return
    where = stats.route or (request.path if request is not None else "this block")
    request_id = get_request_id(request) if request is not None else get_request_id()
    for repeat in repeated:
        logger.warning(
            "N+1 queries: the same SQL ran %d times in %s, from %s: %s",
            repeat.count,
            where,
            repeat.call_site,
            repeat.sql,
            extra={
                "sql": repeat.sql,
                "fingerprint": repeat.fingerprint,
                "count": repeat.count,
                "call_site": repeat.call_site,
                "function": repeat.function,
                "route": stats.route,
                "request_id": request_id,
            },
        )
