"""The generated project's command line, run in a fresh process per command by the benchmark.

``python -m benchmarks.gate_schema.main setup`` writes the migrations, creates the tables,
records the migrations as applied, seeds a few rows per model and analyses the tables;
``run CASE [--verify]`` runs one command as CI would, counting the SQL it sends, and prints
one JSON line with the command's own time, the queries and what it found. Settings come
from the environment (``benchmarks.gate_schema.settings``); the benchmark creates and
drops the database around the run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.gate_schema.generate import APPS

STARTED = time.perf_counter()
ROWS_PER_MODEL = 5
# Statements that read the catalog or the statistics rather than the project's tables.
CATALOG = re.compile(
    r"\b(pg_catalog|pg_\w+|information_schema|sqlite_master|sqlite_schema)\b|^\s*PRAGMA",
    re.IGNORECASE,
)
# prodkit's own writer threads (slow queries, errors): what they store is not the command's
# SQL, and appears only when a catalog query was slow enough to be recorded.
WRITER_THREADS = ("prodkit-queries", "prodkit-errors", "prodkit-writer")
CHECK_ID = re.compile(r"\((\w+(?:\.\w+)*\.[EWIC]\d{3})\)")
# What each case runs: the command, its arguments and options, as ``call_command`` takes them.
COMMANDS: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "start": ("", (), {}),
    "django-check": ("check", (), {"deploy": True}),
    "django-migrate": ("migrate", (), {"check_unapplied": True}),
    "django-makemigrations": (
        "makemigrations",
        (),
        {"check_changes": True, "dry_run": True},
    ),
    "indexes": ("prodkit_indexes", (), {"format": "json"}),
    "indexes-structural": (
        "prodkit_indexes",
        (),
        {"format": "json", "structural": True},
    ),
    "check": ("prodkit_check", (), {"format": "json"}),
    "check-indexes": ("prodkit_check", (), {"format": "json", "tag": ["indexes"]}),
    # The generated apps only: ``sqldiff -a`` stops with FieldDoesNotExist on the
    # descending index ("-last_seen") of one of django-prodkit's own models.
    "sqldiff": ("sqldiff", APPS, {"sql": False, "dense_output": True}),
}


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.gate_schema.settings")
    import django

    django.setup()


@contextmanager
def _counting_queries(statements: list[tuple[str, str]]) -> Iterator[None]:
    """Record the SQL sent through Django's connections, in any thread, with its thread.

    The gate probes each database in a thread of its own, with a connection of that
    thread: a wrapper goes on every connection opened while counting, and on those of
    this thread that are open already.
    """
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.signals import connection_created

    wrapped: list[BaseDatabaseWrapper] = []

    def record(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        statements.append((threading.current_thread().name, sql))
        return execute(sql, *args)

    def wrap(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if record in connection.execute_wrappers:  # closed and opened again
            return
        # First in the list, outermost: a command's own execute_wrapper() block, entered
        # before its connection opened, pops the last wrapper when it ends.
        connection.execute_wrappers.insert(0, record)
        wrapped.append(connection)

    for connection in connections.all():
        if connection.connection is not None:
            wrap(connection)
    connection_created.connect(wrap, dispatch_uid="gate-benchmark")
    try:
        yield
    finally:
        connection_created.disconnect(dispatch_uid="gate-benchmark")
        for connection in wrapped:
            connection.execute_wrappers.remove(record)


def _summary_of(case: str, output: str, errors: str) -> dict[str, object]:
    """What the command found, by kind, level or check id."""
    if case.startswith("indexes"):
        document = json.loads(output)
        return {
            "findings": dict(Counter(f["kind"] for f in document["findings"])),
            "levels": dict(Counter(f["level"] for f in document["findings"])),
            "skipped": len(document.get("skipped", [])),
        }
    if case.startswith("check"):
        document = json.loads(output)
        return {
            "passed": document["passed"],
            "levels": dict(Counter(r["level"] for r in document["results"])),
            "ids": dict(Counter(r["id"] for r in document["results"])),
        }
    if case == "django-check":
        return {"ids": dict(Counter(CHECK_ID.findall(output + errors)))}
    return {}


def _sqldiff_recorder(found: list[str]) -> Callable[[], None]:
    """Keep the kinds of difference sqldiff finds; returns the function that undoes it."""
    from django_extensions.management.commands.sqldiff import SQLDiff

    original: Callable[..., Any] = SQLDiff.print_diff

    def print_diff(self: Any, *args: Any, **kwargs: Any) -> Any:
        found.extend(kind for _, _, diffs in self.differences for kind, _ in diffs)
        return original(self, *args, **kwargs)

    SQLDiff.print_diff = print_diff  # type: ignore[method-assign]

    def undo() -> None:
        SQLDiff.print_diff = original  # type: ignore[method-assign]

    return undo


def run(case: str, *, verify: bool) -> dict[str, object]:
    """Run one case's command as CI would and say what it cost and found."""
    _setup_django()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    ready = time.perf_counter()
    name, arguments, options = COMMANDS[case]
    result: dict[str, object] = {"case": case, "setup_s": ready - STARTED}
    if not name:
        return {**result, "command_s": 0.0, "queries": 0, "catalog_queries": 0}
    statements: list[tuple[str, str]] = []
    output, errors = io.StringIO(), io.StringIO()
    differences: list[str] = []
    undo = _sqldiff_recorder(differences) if case == "sqldiff" else None
    exit_code = 0
    started = time.perf_counter()
    try:
        with _counting_queries(statements):
            call_command(name, *arguments, stdout=output, stderr=errors, **options)
    except CommandError as error:  # a finding at the fail level: not a failure here
        exit_code = error.returncode
    except SystemExit as error:  # migrate --check, makemigrations --check, sqldiff
        exit_code = int(error.code or 0)
    finally:
        elapsed = time.perf_counter() - started
        if undo is not None:
            undo()
    commands = [sql for thread, sql in statements if thread not in WRITER_THREADS]
    result.update(
        command_s=elapsed,
        exit=exit_code,
        queries=len(commands),
        catalog_queries=sum(1 for sql in commands if CATALOG.search(sql)),
        writer_queries=len(statements) - len(commands),
        found=_summary_of(case, output.getvalue(), errors.getvalue()),
    )
    if differences:
        result["found"] = {"differences": dict(Counter(differences))}
    if verify and case.startswith("indexes"):
        from django_prodkit.checks.indexes import inspect

        report = inspect("default", statistics=case == "indexes")
        result["report"] = {
            "queries": report.queries,
            "findings": len(report.findings),
            "skipped": len(report.skipped),
        }
    return result


def _seed() -> None:
    """A few rows per model, in number order so that foreign keys find their targets."""
    from django.apps import apps
    from django.db import connection, transaction
    from django.utils import timezone

    from benchmarks.gate_schema.generate import app_of, model_count, model_name

    now = timezone.now()
    rows: dict[int, list[Any]] = {}
    with transaction.atomic():
        for number in range(model_count()):
            model = apps.get_model(app_of(number), model_name(number))
            field_names = {field.name for field in model._meta.get_fields()}
            objects = []
            for row in range(ROWS_PER_MODEL):
                values: dict[str, Any] = {
                    "name": f"name {row}",
                    "status": ("new", "open", "active")[row % 3],
                    "amount": row * 10,
                    "created": now,
                }
                if "code" in field_names:
                    values["code"] = f"{number}-{row}"
                if "parent" in field_names:
                    values["parent"] = rows[number - 1][row]
                if "owner" in field_names:
                    values["owner"] = rows[number // 2][row]
                objects.append(model(**values))
            rows[number] = model.objects.bulk_create(objects)
            if "tags" in field_names:
                for instance in rows[number]:
                    instance.tags.set(rows[number // 3][:2])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _create_tables() -> None:
    """Create the generated apps' tables from their models, as their migrations would.

    Applying 300 models' migrations takes minutes (Django renders the related models again
    for every operation); the schema editor gives the same tables, indexes and constraints
    in seconds, and the migrations are then recorded as applied with ``--fake``.
    """
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        for app in APPS:
            for model in apps.get_app_config(app).get_models():
                editor.create_model(model)


def setup() -> dict[str, object]:
    """Write the migrations, create the tables in the (new, empty) database, seed them."""
    package = Path(os.environ["PRODKIT_BENCH_GATE_MIGRATIONS"]) / "gate_migrations"
    for app in APPS:
        (package / app).mkdir(parents=True, exist_ok=True)
        (package / app / "__init__.py").touch()
    (package / "__init__.py").touch()
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("makemigrations", *APPS, verbosity=0)
    written = time.perf_counter()
    for app in ("contenttypes", "auth", "sessions", "prodkit"):
        call_command("migrate", app, verbosity=0)
    _create_tables()
    for app in APPS:
        call_command("migrate", app, fake=True, verbosity=0)
    migrated = time.perf_counter()
    _seed()
    tables = connection.introspection.table_names()
    return {
        "tables": len(tables),
        "makemigrations_s": written - started,
        "migrate_s": migrated - written,
        "seed_s": time.perf_counter() - migrated,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    commands.add_parser("setup")
    running = commands.add_parser("run")
    running.add_argument("case", choices=COMMANDS)
    running.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "setup":
        print(json.dumps(setup()))
    else:
        print(json.dumps(run(args.case, verify=args.verify)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
