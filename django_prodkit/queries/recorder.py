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

__all__ = ["QueryRecorder", "install", "install_open_connections", "refresh"]

Params = Sequence[Any] | Mapping[str, Any] | None
_current_stats = current.get
_recorders: weakref.WeakSet[QueryRecorder] = weakref.WeakSet()
_lock = threading.Lock()


class QueryRecorder:
    """Times each query of one connection; see the module's docstring."""

    __slots__ = ("__weakref__", "_wrappers", "alias", "threshold", "vendor")

    def __init__(self, connection: BaseDatabaseWrapper, options: QueriesSettings):
        self.alias: str = connection.alias
        self.vendor: str = connection.vendor
        self._wrappers = connection.execute_wrappers
        self.threshold = math.inf
        self.configure(options)

    def __call__(
        self,
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
            if elapsed >= self.threshold:
                record_slow(self.alias, self.vendor, sql, params, many, elapsed, stats)

    def configure(self, options: QueriesSettings) -> None:
        """Take the threshold of ``options``, or step aside when they exclude this alias."""
        if options.enabled and _wanted(self.alias, options):
            self.threshold = (
                options.alias_slow_ms.get(self.alias, options.slow_ms) / 1000
            )
            return
        self.threshold = math.inf
        if self in self._wrappers:
            self._wrappers.remove(self)
        with _lock:
            _recorders.discard(self)


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
    for wrapper in connection.execute_wrappers:
        if isinstance(wrapper, QueryRecorder):  # A reconnection of the same wrapper.
            return wrapper
    recorder = QueryRecorder(connection, options)
    # First, not last: Django's execute_wrapper() removes the last wrapper when its block
    # ends, so a connection opened inside such a block would lose ours to it.
    connection.execute_wrappers.insert(0, recorder)
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
