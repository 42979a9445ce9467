"""System checks of query monitoring: prodkit.E080 to prodkit.W083."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import connections

from django_prodkit import conf
from django_prodkit.conf import QueriesSettings

MIDDLEWARE_PATH = "django_prodkit.queries.QueriesMiddleware"
MIDDLEWARE_PATHS = frozenset(
    {MIDDLEWARE_PATH, "django_prodkit.queries.middleware.QueriesMiddleware"}
)
# libpq's options: "-c statement_timeout=5000", "-cstatement_timeout=5s",
# "--statement-timeout=5000".
_TIMEOUT_OPTION = re.compile(r"(?:-c\s*|--)statement[_-]timeout\s*=\s*'?([^\s']+)")
_NONE = frozenset({"0", "0ms", "0s", "0min", "0h", "0d"})


def check_queries(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """prodkit.E080 (alias not in DATABASES), W082 (EXPLAIN without PostgreSQL), W083
    (per-request features configured without the middleware)."""
    options = conf.load()[0].queries
    if not options.enabled:
        return []
    problems: list[CheckMessage] = [*_unknown_aliases(options)]
    timed = [
        alias
        for alias in settings.DATABASES
        if options.aliases is None or alias in options.aliases
    ]
    if options.explain and not any(_is_postgresql(alias) for alias in timed):
        problems.append(
            Warning(
                "PRODKIT['QUERIES']['EXPLAIN'] is on, but no timed database is "
                "PostgreSQL: plans are captured on PostgreSQL only.",
                hint="Turn EXPLAIN off, or time a PostgreSQL alias.",
                id="prodkit.W082",
            )
        )
    if _needs_middleware(options) and not MIDDLEWARE_PATHS.intersection(
        settings.MIDDLEWARE
    ):
        problems.append(
            Warning(
                "PRODKIT['QUERIES'] configures per-request features (N_PLUS_ONE, "
                "SERVER_TIMING, MAX_QUERIES or MAX_DB_MS), but QueriesMiddleware is "
                "not in MIDDLEWARE, so requests are not counted.",
                hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, right after "
                "RequestIDMiddleware.",
                id="prodkit.W083",
            )
        )
    return problems


def _unknown_aliases(options: QueriesSettings) -> list[CheckMessage]:
    named = [
        *(("ALIASES", alias) for alias in options.aliases or ()),
        *(("ALIAS_SLOW_MS", alias) for alias in options.alias_slow_ms),
        *((("DATABASE", options.database),) if options.database is not None else ()),
    ]
    return [
        Error(
            f"PRODKIT['QUERIES']['{key}'] names database {alias!r}, which is not in "
            "DATABASES.",
            hint="Use one of: " + ", ".join(sorted(settings.DATABASES)) + ".",
            id="prodkit.E080",
        )
        for key, alias in named
        if alias not in settings.DATABASES
    ]


def _needs_middleware(options: QueriesSettings) -> bool:
    # Only what the user asked for: the default N_PLUS_ONE alone warns nobody, since the
    # slow-query log works without the middleware.
    raw = getattr(settings, "PRODKIT", {})
    section = raw.get("QUERIES") if isinstance(raw, Mapping) else None
    asked = section if isinstance(section, Mapping) else {}
    return bool(
        options.server_timing
        or options.max_queries is not None
        or options.max_db_ms is not None
        or ("N_PLUS_ONE" in asked and options.n_plus_one is not None)
    )


def _is_postgresql(alias: str) -> bool:
    try:
        return connections[alias].vendor == "postgresql"
    except Exception:  # An engine that cannot be loaded is Django's check to report.
        return False


def check_statement_timeout(
    app_configs: Sequence[AppConfig] | None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """prodkit.W081 (deploy): a PostgreSQL database without ``statement_timeout``.

    With ``--database``, the server is asked (``SHOW statement_timeout``, which sees role
    and database defaults too); otherwise, or when it does not answer, the connection's
    options are read.
    """
    problems: list[CheckMessage] = []
    for alias in settings.DATABASES:
        if not _is_postgresql(alias):
            continue
        timeout = None
        if databases is not None and alias in databases:
            timeout = _server_timeout(alias)
        if timeout is None:  # Not asked, or the server did not answer.
            timeout = _configured_timeout(settings.DATABASES[alias])
        if timeout not in _NONE:
            continue
        problems.append(
            Warning(
                f"PostgreSQL database {alias!r} has no statement_timeout: a runaway "
                "query holds its connection and its locks for as long as it runs.",
                hint=f"Set one per connection: DATABASES[{alias!r}]['OPTIONS'] = "
                "{'options': '-c statement_timeout=5000'} (milliseconds); raise it "
                "for one block with atomic_retry(statement_timeout=...) or SET LOCAL.",
                id="prodkit.W081",
            )
        )
    return problems


def _server_timeout(alias: str) -> str | None:
    """The server's value, or None when it cannot be asked."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            row = cursor.fetchone()
    except Exception:
        return None
    return str(row[0]) if row else None


def _configured_timeout(config: Mapping[str, Any]) -> str:
    options = config.get("OPTIONS") or {}
    # libpq reads PGOPTIONS only when the connection gives no options of its own.
    text = str(options.get("options") or os.environ.get("PGOPTIONS", ""))
    found = _TIMEOUT_OPTION.findall(text)
    return found[-1] if found else "0"
