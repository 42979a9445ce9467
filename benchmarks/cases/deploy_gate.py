"""The deploy gate: ``prodkit_indexes`` and ``prodkit_check`` on a generated schema of 30,
100 and 300 models, against what a team runs before a deploy today.

Each command runs in a fresh process, as CI and a deploy script run it, so the time
measured is the whole invocation: the interpreter, ``django.setup()`` of the project and the
command. The project (``benchmarks.gate_schema``) has N generated models over four apps,
with the shapes real schemas have (foreign keys, some without an index, ``db_index``
fields, unique ``CharField``\\ s and their ``_like`` indexes, multi-column, partial and
expression indexes, plain and partial unique constraints, check constraints, a few
many-to-many fields), their migrations, and a few rows per table, analysed. Each size has
a database of its own, created for the run and dropped after it, on the PostgreSQL server
of ``DATABASE_URL`` (else a SQLite file in a temporary folder: the processes cannot share an
in-memory one).

Cases, per size, each run once per round with the cases interleaved:

- ``s``: the process alone (``django.setup()``, no command): the floor of any command;
- ``d``: Django today: ``check --deploy``, ``migrate --check`` and ``makemigrations --check
  --dry-run``, three processes, as a pipeline runs them; none of them looks at indexes;
- ``i``: ``prodkit_indexes --format json`` (statistics included);
- ``t``: ``prodkit_indexes --structural`` (when the command has the option);
- ``c``: ``prodkit_check --format json``, every tag;
- ``k``: ``prodkit_check --format json --tag indexes``;
- ``x``: django-extensions' ``sqldiff`` over the generated apps (declared vs live).

Inside each process the SQL sent through Django's connections during the command is
counted (``connection.execute_wrapper``), and catalog queries (``pg_*``,
``information_schema``, ``sqlite_master``, ``PRAGMA``) apart, and the statements of
prodkit's own writer threads left out (a catalog query slow enough to be recorded as a
slow query makes them, at no fixed time); before and after timing,
``prodkit_indexes``' own count (``inspect(...).queries``) is read too. The extra table gives
each case's process time against Django today at the same size, the command's own time,
the queries and what each command found; the last lines check that the prodkit commands'
queries are the same at every size and that both stay under 5 s at 300 models.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.counters import database_from_env, redacted
from benchmarks.harness import Benchmark, Case, Operation, RoundStats
from benchmarks.report import Span, markdown

ROOT = Path(__file__).resolve().parent.parent.parent
SIZES_VARIABLE = "PRODKIT_BENCH_GATE_SIZES"
SIZES = tuple(
    int(size) for size in os.environ.get(SIZES_VARIABLE, "30,100,300").split(",")
)
TARGET_SECONDS = 5.0
# Each case runs once per round (and once to warm up): the share makes a visit one run.
ONE_RUN = 0.001
CHILD_TIMEOUT = (
    300  # seconds; a command that hangs stops the run instead of blocking it
)

DATABASE = database_from_env("deploy_gate", 0)


@dataclass(frozen=True)
class Kind:
    """One command line (or pipeline of them) run at every size."""

    stem: str
    label: str
    children: tuple[str, ...]  # ``benchmarks.gate_schema.main run`` cases, in order
    command: str | None = None  # the prodkit command it needs, if any
    prodkit: bool = False  # its queries must be the same at every size
    extensions: bool = False  # needs django-extensions installed in the project


KINDS = (
    Kind("s", "process start: django.setup(), no command", ("start",)),
    Kind(
        "d",
        "Django today: check --deploy + migrate --check + makemigrations --check (3 processes)",
        ("django-check", "django-migrate", "django-makemigrations"),
    ),
    Kind(
        "i",
        "prodkit_indexes",
        ("indexes",),
        command="prodkit_indexes",
        prodkit=True,
    ),
    Kind(
        "t",
        "prodkit_indexes --structural",
        ("indexes-structural",),
        command="prodkit_indexes --structural",
        prodkit=True,
    ),
    Kind("c", "prodkit_check", ("check",), command="prodkit_check", prodkit=True),
    Kind(
        "k",
        "prodkit_check --tag indexes",
        ("check-indexes",),
        command="prodkit_check",
        prodkit=True,
    ),
    Kind(
        "x",
        "django-extensions sqldiff (generated apps)",
        ("sqldiff",),
        extensions=True,
    ),
)
BASELINE_STEM = "d"

# What the children said, by case key: timed runs, and the verification runs apart.
RUNS: dict[str, list[list[dict[str, Any]]]] = {}
VERIFIED: dict[str, list[list[dict[str, Any]]]] = {}
SETUP: dict[int, dict[str, Any]] = {}
MISSING: list[str] = []  # prodkit commands (or options) not in this checkout yet
_folders: list[Path] = []
_databases: list[str] = []


# --- the generated projects ----------------------------------------------------------------


def _database_name(size: int) -> str:
    base = str(DATABASE.settings["NAME"]) or "postgres"
    return f"{base}_gate_{size}"


def _environment(size: int, *, extensions: bool = False) -> dict[str, str]:
    """The environment of a process of the project with ``size`` models."""
    folder = Path(tempfile.gettempdir()) / f"prodkit-bench-gate-{os.getpid()}-{size}"
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "benchmarks.gate_schema.settings",
        "PRODKIT_BENCH_GATE_MODELS": str(size),
        "PRODKIT_BENCH_GATE_MIGRATIONS": str(folder),
        "PRODKIT_BENCH_GATE_EXTENSIONS": "1" if extensions else "0",
    }
    if DATABASE.postgres_url is not None:
        environment["PRODKIT_BENCH_GATE_DATABASE"] = _database_name(size)
    else:
        environment.pop("DATABASE_URL", None)
        environment["PRODKIT_BENCH_GATE_SQLITE"] = str(folder / "db.sqlite3")
    return environment


def _child(size: int, arguments: Sequence[str], *, extensions: bool = False) -> Any:
    """Run ``benchmarks.gate_schema.main`` with ``arguments``; return its JSON line."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.gate_schema.main", *arguments],
        cwd=ROOT,
        env=_environment(size, extensions=extensions),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"{' '.join(arguments)} at {size} models exited {completed.returncode}:\n"
            + completed.stderr[-3000:]
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _admin_connection() -> Any:
    import psycopg

    assert DATABASE.postgres_url is not None
    return psycopg.connect(DATABASE.postgres_url, autocommit=True)


def _create_project(size: int) -> None:
    """A new database (or SQLite file) with the project's tables, migrations and rows."""
    folder = Path(_environment(size)["PRODKIT_BENCH_GATE_MIGRATIONS"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _folders.append(folder)
    if DATABASE.postgres_url is not None:
        name = _database_name(size)
        with _admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        _databases.append(name)
    SETUP[size] = _child(size, ["setup"])


def _drop_projects() -> None:
    """Drop the databases and folders made for the run (also when a case failed)."""
    if _databases:
        with _admin_connection() as connection:
            for name in _databases:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _databases.clear()
    for folder in _folders:
        shutil.rmtree(folder, ignore_errors=True)
    _folders.clear()


def _available(kind: Kind) -> bool:
    """Whether this checkout has the prodkit command (and option) the kind runs."""
    if kind.command is None:
        return True
    from django.core.management import get_commands, load_command_class

    name, *options = kind.command.split()
    if name not in get_commands():
        return False
    parser = load_command_class(get_commands()[name], name).create_parser(
        "manage.py", name
    )
    known = {flag for action in parser._actions for flag in action.option_strings}
    return all(option in known for option in options)


# --- the cases -----------------------------------------------------------------------------


def _operation(key: str, size: int, kind: Kind) -> Operation:
    def run() -> None:
        RUNS[key].append(
            [
                _child(size, ["run", child], extensions=kind.extensions)
                for child in kind.children
            ]
        )

    return run


def _verify(key: str, size: int, kind: Kind) -> Callable[[Operation], None]:
    """Run the case once more with ``--verify``: each command ran and said what it found."""

    def verify(operation: Operation) -> None:
        results = [
            _child(size, ["run", child, "--verify"], extensions=kind.extensions)
            for child in kind.children
        ]
        where = f"case ({key})"
        for result in results:
            allowed = {0, 1} if result["case"] != "start" else {None}
            assert result.get("exit") in allowed, f"{where}: {result}"
            if result["case"].startswith(("indexes", "sqldiff")):
                assert result["queries"] > 0, f"{where}: no SQL counted: {result}"
            if (
                result["case"].startswith("django-")
                and result["case"] != "django-check"
            ):
                assert result["exit"] == 0, f"{where}: Django finds the project dirty"
        VERIFIED[key].append(results)

    return verify


def build() -> list[Case]:
    atexit.register(_drop_projects)
    for kind in KINDS:
        if not _available(kind):
            MISSING.append(kind.command or kind.label)
    for size in SIZES:
        _create_project(size)
    cases: list[Case] = []
    for size in SIZES:
        for kind in KINDS:
            if kind.command in MISSING:
                continue
            key = f"{kind.stem}{size}"
            RUNS[key], VERIFIED[key] = [], []
            cases.append(
                Case(
                    key=key,
                    label=f"{kind.label}, {size} models",
                    operation=_operation(key, size, kind),
                    verify=_verify(key, size, kind),
                    share=ONE_RUN,
                )
            )
    return cases


# --- the extra report ----------------------------------------------------------------------


def _seconds(span: Span) -> str:
    return f"{span.median:.2f} [{span.low:.2f}–{span.high:.2f}]"


def _found(results: Sequence[dict[str, Any]]) -> str:
    """A short account of what the case's commands found."""
    parts: list[str] = []
    for result in results:
        found = result.get("found", {})
        if "findings" in found:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(found["findings"].items()))
            parts.append(f"{sum(found['findings'].values())} findings ({kinds or '—'})")
            if found.get("skipped"):
                parts.append(f"{found['skipped']} skipped")
        elif "levels" in found:
            levels = ", ".join(f"{k} {n}" for k, n in sorted(found["levels"].items()))
            parts.append(f"exit {result['exit']}: {levels or 'nothing'}")
        elif "differences" in found:
            differences = found["differences"]
            common = sorted(differences.items(), key=lambda item: -item[1])[:3]
            kinds = ", ".join(f"{kind} {count}" for kind, count in common)
            parts.append(f"{sum(differences.values())} differences ({kinds}, …)")
        elif "ids" in found:
            parts.append(f"check: {sum(found['ids'].values())} warnings")
        elif result["case"] != "start":
            parts.append(
                f"{result['case'].removeprefix('django-')}: exit {result['exit']}"
            )
    return "; ".join(parts) or "—"


def _queries(results: Sequence[dict[str, Any]]) -> tuple[int, int]:
    return (
        sum(result.get("queries", 0) for result in results),
        sum(result.get("catalog_queries", 0) for result in results),
    )


def extra(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, object]]:
    """Seconds per case, ratios to Django today at the same size, queries, findings, target."""
    _drop_projects()
    header = [
        "case",
        "process s [min–max]",
        "× Django today",
        "command s",
        "SQL (catalog)",
        "found",
    ]
    body: list[list[str]] = []
    data: dict[str, object] = {}
    process: dict[str, float] = {}
    queries: dict[str, tuple[int, int]] = {}
    reported: dict[str, list[int]] = {}
    varying: dict[str, list[tuple[int, int]]] = {}
    writer = 0
    for case in cases:
        key, size = case.key, int(case.key[1:])
        seconds = [item.p50_us / 1e6 for item in stats[key]]
        baseline = [item.p50_us / 1e6 for item in stats[f"{BASELINE_STEM}{size}"]]
        ratio = statistics.median(
            value / ref for value, ref in zip(seconds, baseline, strict=True)
        )
        command = statistics.median(
            sum(result.get("command_s", 0.0) for result in run) for run in RUNS[key]
        )
        counts = sorted({_queries(run) for run in RUNS[key] + VERIFIED[key]})
        queries[key] = counts[0]
        if len(counts) > 1:  # reported, and fails the constancy line, not the run
            varying[key] = counts
        reported[key] = [
            result["report"]["queries"]
            for run in VERIFIED[key]
            for result in run
            if "report" in result
        ]
        writer += sum(
            result.get("writer_queries", 0)
            for run in RUNS[key] + VERIFIED[key]
            for result in run
        )
        process[key] = statistics.median(seconds)
        last = VERIFIED[key][-1]
        sql = f"{queries[key][0]} ({queries[key][1]})"
        if key in varying:
            sql = " or ".join(f"{total} ({catalog})" for total, catalog in counts)
        body.append(
            [
                f"({key}) {case.label}",
                _seconds(Span.of(seconds)),
                "—" if key[0] == BASELINE_STEM else f"{ratio:.2f}",
                f"{command:.2f}",
                sql,
                _found(last),
            ]
        )
        data[key] = {
            "process_s": round(process[key], 3),
            "ratio_vs_django_today": round(ratio, 3),
            "command_s": round(command, 3),
            "queries": [total for total, _ in counts],
            "catalog_queries": [catalog for _, catalog in counts],
            "inspect_queries": reported[key],
            "found": [result.get("found", {}) for result in last],
            "exits": [result.get("exit") for result in last],
        }
    lines = [
        f"database: {_server()}",
        "Set-up per size (makemigrations, tables, seed): "
        + ", ".join(
            f"{size} models: {SETUP[size]['tables']} tables in "
            f"{SETUP[size]['makemigrations_s'] + SETUP[size]['migrate_s'] + SETUP[size]['seed_s']:.1f} s"
            for size in SIZES
        )
        + ".",
        "process s: the whole command line (a new Python process, django.setup(), the "
        "command), one run per case per round, median [min–max] over rounds; × Django "
        "today: paired per round with (d) at the same size; command s: the command alone, "
        "inside its process (median); SQL: statements sent through Django's connections "
        "during the command, catalog ones in brackets.",
        "",
        markdown(header, body),
        "",
        *_constancy(cases, queries, reported, varying),
        _target(process, queries, varying),
        f"prodkit's slow-query and error writer threads sent {writer} statements over "
        "all runs (a catalog query slower than QUERIES' threshold is recorded); they "
        "are not counted above.",
    ]
    if MISSING:
        lines.append(f"not run (not in this checkout yet): {', '.join(MISSING)}")
    return "\n".join(lines), {
        "database": _server(),
        "sizes": list(SIZES),
        "setup": {str(size): SETUP[size] for size in SIZES},
        "missing": MISSING,
        "cases": data,
    }


def _server() -> str:
    if DATABASE.postgres_url is None:
        return "SQLite files, one per size (set DATABASE_URL for PostgreSQL)"
    with _admin_connection() as connection:
        number = connection.info.server_version
    return (
        f"PostgreSQL {number // 10000}.{number % 10000}, at "
        f"{redacted(DATABASE.postgres_url)}, one database per size"
    )


def _stems(cases: Sequence[Case]) -> list[str]:
    return list(dict.fromkeys(case.key[0] for case in cases))


def _constancy(
    cases: Sequence[Case],
    queries: Mapping[str, tuple[int, int]],
    reported: Mapping[str, list[int]],
    varying: Mapping[str, object],
) -> list[str]:
    """One line per command: its SQL at every size, and whether it is constant."""
    lines = []
    for stem in _stems(cases):
        kind = next(kind for kind in KINDS if kind.stem == stem)
        counts = [queries[f"{stem}{size}"][0] for size in SIZES]
        inspected = sorted(
            {count for size in SIZES for count in reported[f"{stem}{size}"]}
        )
        line = (
            f"SQL per run at {' / '.join(map(str, SIZES))} models, ({stem}) "
            f"{kind.label}: {' / '.join(map(str, counts))}"
        )
        if inspected:
            line += f"; inspect().queries {' / '.join(map(str, inspected))}"
        if kind.prodkit:
            constant = (
                len(set(counts)) == 1
                and len(inspected) <= 1
                and not any(f"{stem}{size}" in varying for size in SIZES)
            )
            line += f": constant {'yes' if constant else 'NO'}"
        lines.append(line)
    return lines


def _target(
    process: Mapping[str, float],
    queries: Mapping[str, tuple[int, int]],
    varying: Mapping[str, object],
) -> str:
    """Issue 8's target: both commands under 5 s at 300 models, queries constant."""
    size = max(SIZES)
    checked = [
        (stem, label)
        for stem, label in (("i", "prodkit_indexes"), ("c", "prodkit_check"))
        if f"{stem}{size}" in process
    ]
    if not checked:
        return "target: not checked (prodkit_indexes and prodkit_check not in this checkout)"
    parts = []
    met = True
    for stem, label in checked:
        seconds = process[f"{stem}{size}"]
        constant = len(
            {queries[f"{stem}{other}"][0] for other in SIZES}
        ) == 1 and not any(f"{stem}{other}" in varying for other in SIZES)
        met = met and seconds < TARGET_SECONDS and constant
        parts.append(
            f"{label} {seconds:.2f} s {'yes' if seconds < TARGET_SECONDS else 'NO'}, "
            f"queries constant {'yes' if constant else 'NO'}"
        )
    return (
        f"target (issue 8) at {size} models, whole process under {TARGET_SECONDS:.0f} s and "
        f"SQL the same at {', '.join(map(str, SIZES))} models: {'; '.join(parts)}: "
        f"{'met' if met else 'NOT met'}"
    )


_distributions = ["django-prodkit", "django-extensions"]
if DATABASE.postgres_url is not None:
    _distributions.append("psycopg")

SPEC = Benchmark(
    name="deploy_gate",
    title="Deploy gate: prodkit_indexes and prodkit_check on 30, 100 and 300 generated models, "
    "against Django's own pre-deploy commands and django-extensions' sqldiff",
    baseline=f"{BASELINE_STEM}{max(SIZES)}",
    installed_apps=["django_prodkit"],
    distributions=_distributions,
    build=build,
    extra=extra,
    requests=1,
)
