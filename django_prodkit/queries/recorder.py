"""The execute wrapper that times every query, installed once on every connection.

``connection_created`` installs a :class:`QueryRecorder` on each new connection of the
configured aliases (requests, management commands and Celery tasks alike), and
``ready()`` on the connections already open. The fast path, a query under its threshold,
costs two clock reads, one context variable read and one comparison; only a slow query
does more, after the query has returned, in :mod:`~django_prodkit.queries.slow`.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from django_prodkit import conf
from django_prodkit.conf import QueriesSettings
from django_prodkit.queries.slow import record_slow
from django_prodkit.queries.stats import current

__all__ = [
    "QueryRecorder",
    "install",
    "install_open_connections",
    "recorder_of",
    "recorders",
    "refresh",
]

Params = Sequence[Any] | Mapping[str, Any] | None
_current_stats = current.get
_recorders: weakref.WeakSet[QueryRecorder] = weakref.WeakSet()
_lock = threading.Lock()
_RECORDER = "_prodkit_recorder"


Wrapper = Callable[[Callable[..., Any], str, Params, bool, dict[str, Any]], Any]


class QueryRecorder:
    """Times each query of one connection; see the module's docstring.

    Django calls :attr:`wrapper`, a plain function: calling an object's ``__call__``
    through the ``functools.partial`` that Django wraps each execute wrapper in costs
    about 0.4 µs more per query.
    """

    __slots__ = ("__weakref__", "_wrappers", "alias", "threshold", "vendor", "wrapper")

    def __init__(self, connection: BaseDatabaseWrapper, options: QueriesSettings):
        self.alias: str = connection.alias
        self.vendor: str = connection.vendor
        self._wrappers = connection.execute_wrappers
        self.threshold = math.inf
        self.wrapper: Wrapper = _timing(self)
        self.configure(options)

    def configure(self, options: QueriesSettings) -> None:
        """Take the threshold of ``options``, or step aside when they exclude this alias."""
        if options.enabled and _wanted(self.alias, options):
            self.threshold = (
                options.alias_slow_ms.get(self.alias, options.slow_ms) / 1000
            )
            return
        self.threshold = math.inf
        if self.wrapper in self._wrappers:
            self._wrappers.remove(self.wrapper)
        with _lock:
            _recorders.discard(self)


def _timing(recorder: QueryRecorder) -> Wrapper:
    alias, vendor = recorder.alias, recorder.vendor

    def record_query(
        execute: Callable[..., Any],
        sql: str,
        params: Params,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        start = perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = perf_counter() - start
            stats = _current_stats()
            if stats is not None:
                stats.record(sql, elapsed)
            if elapsed >= recorder.threshold:
                record_slow(alias, vendor, sql, params, many, elapsed, stats)

    # A cycle with the recorder, collected with it when the connection goes.
    record_query.__dict__[_RECORDER] = recorder
    return record_query


def recorder_of(wrapper: object) -> QueryRecorder | None:
    """The recorder whose :attr:`~QueryRecorder.wrapper` ``wrapper`` is, else None."""
    recorder = getattr(wrapper, _RECORDER, None)
    return recorder if isinstance(recorder, QueryRecorder) else None


def recorders(connection: BaseDatabaseWrapper) -> list[QueryRecorder]:
    """The recorders installed on ``connection``: one, or none."""
    return [
        recorder
        for wrapper in connection.execute_wrappers
        if (recorder := recorder_of(wrapper)) is not None
    ]


def _wanted(alias: str, options: QueriesSettings) -> bool:
    return options.aliases is None or alias in options.aliases


def _options() -> QueriesSettings:
    try:
        return conf.get().queries
    except ImproperlyConfigured:
        # Invalid settings are the system checks' to report; connecting must still work.
        return conf.load()[0].queries


def install(connection: BaseDatabaseWrapper) -> QueryRecorder | None:
    """Put a recorder on ``connection`` unless it has one or its alias is not timed."""
    options = _options()
    if not options.enabled or not _wanted(connection.alias, options):
        return None
    for recorder in recorders(connection):  # A reconnection of the same wrapper.
        return recorder
    recorder = QueryRecorder(connection, options)
    # First, not last: Django's execute_wrapper() removes the last wrapper when its block
    # ends, so a connection opened inside such a block would lose ours to it.
    connection.execute_wrappers.insert(0, recorder.wrapper)
    with _lock:
        _recorders.add(recorder)
    return recorder


def install_open_connections() -> None:
    """Install on this thread's connections that exist already (``ready()``)."""
    for connection in connections.all(initialized_only=True):
        install(connection)


def refresh() -> None:
    """Apply changed settings to every recorder (``setting_changed``)."""
    options = _options()
    with _lock:
        recorders = list(_recorders)
    for recorder in recorders:
        recorder.configure(options)
    install_open_connections()


def on_connection_created(
    sender: type[BaseDatabaseWrapper], connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    install(connection)


def on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("PRODKIT", "DATABASES"):
        refresh()
