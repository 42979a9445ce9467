"""Optimistic locking: one ``save()`` of a loaded row with prodkit's ``VersionedModel``,
against the same model without a version and with django-concurrency's version fields.

Every model has the same columns (a ``CharField``, an ``IntegerField`` and a
``DateTimeField(auto_now=True)``; the versioned ones add their version) in a table created
for the run and dropped at its end, on PostgreSQL when ``DATABASE_URL`` is set, else SQLite
in memory. Each case saves one row it read before timing, changing its text on every save,
in one of three shapes:

- autocommit: each statement of the save commits on its own, as in a view without
  ``ATOMIC_REQUESTS``;
- ``s``: each save in its own ``atomic()``, which begins and commits a transaction;
- ``t``: one ``atomic()`` around each visit, so that the saves of a visit share one
  transaction and none pays a commit (the research notes' "one transaction" shape).

A stale ``VersionedModel`` instance, whose row was updated after it was read, gives the
cost of a refused save. Before and after timing, each case counts the SQL statements of
100 saves (``connection.execute_wrapper``, in the case's shape) and asserts them, and
checks the row in the database, so a case whose set-up is wrong stops the run.
"""

from __future__ import annotations

import atexit
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.counters import database_from_env, server_label
from benchmarks.harness import Benchmark, Case, Operation, RoundStats
from benchmarks.report import markdown, signed, summarise

APP_LABEL = "benchmarks"  # the benchmarks package, installed as an app for its models
COUNTED_SAVES = 100  # per case, after a warm-up, before and after timing
WARM_UP = 3
TEXTS = ("draft", "final")
OTHER_TEXT = {TEXTS[0]: TEXTS[1], TEXTS[1]: TEXTS[0]}
ELSEWHERE = "changed elsewhere"  # the stale row's text, written after it was read
SAVES_PER_ROUND = 3_000  # a save on PostgreSQL costs ~5 requests

DATABASE = database_from_env("locking", 600)

# shape suffix -> (label, plain save's key, django-concurrency's key) in that shape
SHAPES = {
    "": ("autocommit", "a", "c"),
    "s": ("atomic() per save", "as", "cs"),
    "t": ("one transaction", "at", "ct"),
}
T4_RATIO = 1.10
# django-concurrency's ratios to a plain save in the research notes (§3, PostgreSQL).
RESEARCH_PEER = {"": 1.91, "t": 2.24}

# Statements per save, by their first word, and how the extra table describes them.
UPDATE = ("UPDATE",)
SELECT_UPDATE = ("SELECT", "UPDATE")
UPDATE_SELECT = ("UPDATE", "SELECT")
# Not counted: SQLite's backend sends BEGIN through a cursor, psycopg does it itself.
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_DESCRIBED = {
    UPDATE: "UPDATE",
    SELECT_UPDATE: "SELECT (exists), UPDATE",
    UPDATE_SELECT: "UPDATE (0 rows), SELECT version",
}

# Per-save counts by case key, filled in when each case is first verified.
COUNTS: dict[str, dict[str, object]] = {}
_tables: list[type[Any]] = []


# --- models and tables -------------------------------------------------------------------


def _define_models() -> dict[str, type[Any]]:
    """The benchmark's models, defined once Django is set up."""
    from concurrency.fields import AutoIncVersionField, IntegerVersionField
    from django.db import models

    from django_prodkit.locking import VersionedModel

    class Row(models.Model):
        text = models.CharField(max_length=20)
        views = models.IntegerField(default=0)
        updated = models.DateTimeField(auto_now=True)

        class Meta:
            abstract = True
            app_label = APP_LABEL

    class PlainRow(Row):  # noqa: DJ008
        class Meta:
            app_label = APP_LABEL

    class VersionedRow(VersionedModel, Row):  # noqa: DJ008
        class Meta:
            app_label = APP_LABEL

    class IntegerVersionRow(Row):  # noqa: DJ008
        version = IntegerVersionField()

        class Meta:
            app_label = APP_LABEL

    class AutoIncVersionRow(Row):  # noqa: DJ008
        version = AutoIncVersionField()

        class Meta:
            app_label = APP_LABEL

    return {
        "plain": PlainRow,
        "prodkit": VersionedRow,
        "integer": IntegerVersionRow,
        "autoinc": AutoIncVersionRow,
    }


def _create_tables(models: Sequence[type[Any]]) -> None:
    from django.db import connection

    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in models:
            if model._meta.db_table in existing:  # left behind by a run that failed
                editor.delete_model(model)
            editor.create_model(model)
            _tables.append(model)
    atexit.register(_drop_tables)  # also when a case fails


def _drop_tables() -> None:
    from django.db import connection

    if not _tables:
        return
    with connection.schema_editor() as editor:
        for model in _tables:
            editor.delete_model(model)
    _tables.clear()


def _loaded_row(model: type[Any]) -> Any:
    """A new row, read back from the database as a view would read it."""
    created = model._base_manager.create(text=TEXTS[0])
    return model._base_manager.get(pk=created.pk)


def _stale_row(model: type[Any]) -> Any:
    """A row read, then updated by someone else: its version in the database moved on."""
    instance = _loaded_row(model)
    updated = model.objects.filter(pk=instance.pk).update(text=ELSEWHERE)
    assert updated == 1
    return instance


# --- the timed saves ---------------------------------------------------------------------


def _save(instance: Any) -> Operation:
    def save() -> None:
        instance.text = OTHER_TEXT[instance.text]
        instance.save()

    return save


def _save_in_atomic(instance: Any) -> Operation:
    from django.db import transaction

    def save() -> None:
        instance.text = OTHER_TEXT[instance.text]
        with transaction.atomic():
            instance.save()

    return save


def _save_stale(instance: Any) -> Operation:
    from django_prodkit.locking import ConflictError

    def save() -> None:
        instance.text = OTHER_TEXT[instance.text]
        try:
            instance.save()
        except ConflictError:
            return
        raise AssertionError("a stale save went through")

    return save


def _verify(
    key: str,
    instance: Any,
    statements: tuple[str, ...],
    *,
    versioned: bool,
    version_step: int | None = None,
    stale: bool = False,
) -> Callable[[Operation], None]:
    """Count and check the statements of 100 saves, then the row in the database.

    ``version_step``: by how much each save must raise the version (None: it must only go
    up, as django-concurrency's time-based ``IntegerVersionField`` does).
    """

    def verify(operation: Operation) -> None:
        from django.db import connection

        where = f"case ({key})"
        for _ in range(WARM_UP):
            operation()
        version_before: int = instance.version if versioned else 0
        sql: list[str] = []

        def record(execute: Any, query: str, *args: Any) -> Any:
            sql.append(query)
            return execute(query, *args)

        with connection.execute_wrapper(record):
            for _ in range(COUNTED_SAVES):
                operation()
        sql = [
            query
            for query in sql
            if query.split(None, 1)[0].upper() not in TRANSACTION_CONTROL
        ]
        kinds = [query.split(None, 1)[0].upper() for query in sql]
        assert kinds == list(statements) * COUNTED_SAVES, (
            f"{where}: {dict(Counter(kinds))} in {COUNTED_SAVES} saves, "
            f"expected {', '.join(statements)} per save"
        )
        if versioned:
            column = connection.ops.quote_name("version")
            for query in sql:
                if query.startswith("UPDATE"):
                    condition = query.rsplit(" WHERE ", 1)[-1]
                    assert column in condition, f"{where}: no version check: {query}"
        fields = ["text", "version"] if versioned else ["text"]
        row = type(instance)._base_manager.filter(pk=instance.pk).values(*fields).get()
        if stale:
            assert row == {"text": ELSEWHERE, "version": instance.version + 1}, (
                f"{where}: {row}, read at version {instance.version}"
            )
        else:
            assert row["text"] == instance.text, f"{where}: {row} vs {instance.text!r}"
        if versioned and not stale:
            assert row["version"] == instance.version, f"{where}: {row}"
            if version_step is None:
                assert instance.version > version_before, f"{where}: {row}"
            else:
                expected = version_before + version_step * COUNTED_SAVES
                assert instance.version == expected, f"{where}: {row}, {expected}"
        COUNTS.setdefault(
            key,
            {"sql": len(sql) / COUNTED_SAVES, "statements": _DESCRIBED[statements]},
        )

    return verify


def build() -> list[Case]:
    from django.db import transaction

    models = _define_models()
    _create_tables(list(models.values()))
    cases: list[Case] = []
    # key stem, model, label stem, statements, versioned, version step
    kinds = [
        ("a", "plain", "plain Model.save()", UPDATE, False, None),
        ("b", "prodkit", "prodkit VersionedModel.save()", UPDATE, True, 1),
        (
            "c",
            "integer",
            "django-concurrency IntegerVersionField",
            SELECT_UPDATE,
            True,
            None,
        ),
    ]
    for shape, (shape_label, _, _) in SHAPES.items():
        for stem, model, label, statements, versioned, step in kinds:
            instance = _loaded_row(models[model])
            in_atomic = shape == "s"
            cases.append(
                Case(
                    key=stem + shape,
                    label=f"{label}, {shape_label}",
                    operation=(_save_in_atomic if in_atomic else _save)(instance),
                    context=transaction.atomic if shape == "t" else None,
                    verify=_verify(
                        stem + shape,
                        instance,
                        statements,
                        versioned=versioned,
                        version_step=step,
                    ),
                )
            )
        if shape == "":
            autoinc = _loaded_row(models["autoinc"])
            stale = _stale_row(models["prodkit"])
            cases += [
                Case(
                    key="e",
                    label="django-concurrency AutoIncVersionField, autocommit",
                    operation=_save(autoinc),
                    verify=_verify(
                        "e", autoinc, SELECT_UPDATE, versioned=True, version_step=1
                    ),
                ),
                Case(
                    key="d",
                    label="(b) on a stale instance: ConflictError, autocommit",
                    operation=_save_stale(stale),
                    verify=_verify(
                        "d", stale, UPDATE_SELECT, versioned=True, stale=True
                    ),
                ),
            ]
    return cases


# --- the extra report --------------------------------------------------------------------


def extra(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, object]]:
    """Ratios within each shape, statements per save, and target T4."""
    _drop_tables()
    by_shape: dict[str, list[Case]] = {}
    for case in cases:
        shape = case.key[1:]
        by_shape.setdefault(shape, []).append(case)
    header = [
        "case",
        "p50 µs",
        "Δ vs plain µs",
        "× plain",
        "× concurrency",
        "SQL / save",
        "statements",
    ]
    body: list[list[str]] = []
    data: dict[str, object] = {}
    vs_plain: dict[str, float] = {}
    vs_peer: dict[str, float] = {}
    for shape, (_, plain, peer) in SHAPES.items():
        group = by_shape[shape]
        plain_rows = summarise(group, dict(stats), plain)
        peer_rows = summarise(group, dict(stats), peer)
        for row, peer_row in zip(plain_rows, peer_rows, strict=True):
            counts = COUNTS.get(row.key, {})
            vs_plain[row.key] = row.ratio
            vs_peer[row.key] = peer_row.ratio
            body.append(
                [
                    f"({row.key}) {row.label}",
                    f"{row.p50_us.median:,.1f}",
                    "—" if row.key == plain else signed(row.delta_us.median),
                    f"{row.ratio:.2f}",
                    f"{peer_row.ratio:.2f}",
                    f"{counts.get('sql', float('nan')):.2f}",
                    str(counts.get("statements", "?")),
                ]
            )
            data[row.key] = {
                "ratio_vs_plain_same_shape": round(row.ratio, 4),
                "delta_vs_plain_same_shape_us": round(row.delta_us.median, 3),
                "ratio_vs_concurrency_same_shape": round(peer_row.ratio, 4),
                "per_save": counts,
            }
    database = server_label(DATABASE)
    text = "\n".join(
        [
            f"database: {database}",
            "Ratios and Δ are against the plain save and django-concurrency's "
            "IntegerVersionField save of the same shape, paired per round; statements "
            f"per save counted over {COUNTED_SAVES} saves per case after {WARM_UP} "
            "warm-up ones, before timing (connection.execute_wrapper; BEGIN, COMMIT "
            "and savepoints left out).",
            "",
            markdown(header, body),
            "",
            _t4(vs_plain, vs_peer),
        ]
    )
    return text, {
        "database": database,
        "counted_saves": COUNTED_SAVES,
        "cases": data,
    }


def _t4(vs_plain: Mapping[str, float], vs_peer: Mapping[str, float]) -> str:
    """Target T4 of the performance baselines, shape by shape."""
    one_statement = all(COUNTS.get("b" + shape, {}).get("sql") == 1 for shape in SHAPES)
    ratios = ", ".join(
        f"{label} {vs_plain['b' + shape]:.3f} "
        f"{'yes' if vs_plain['b' + shape] <= T4_RATIO else 'NO'}"
        for shape, (label, _, _) in SHAPES.items()
    )
    peer = ", ".join(
        f"{label} ×{vs_plain['c' + shape]:.2f}"
        + (
            f" (research notes, PostgreSQL: ×{RESEARCH_PEER[shape]:.2f})"
            if shape in RESEARCH_PEER
            else ""
        )
        for shape, (label, _, _) in SHAPES.items()
    )
    speed_up = ", ".join(
        f"{label} {1 / vs_peer['b' + shape]:.2f}×"
        for shape, (label, _, _) in SHAPES.items()
    )
    where = (
        "" if DATABASE.postgres_url else " (SQLite: CPU only; T4 is set on PostgreSQL)"
    )
    return "\n".join(
        [
            f"T4 on (b){where}: 1 SQL statement per save {'yes' if one_statement else 'NO'}; "
            f"≤ {T4_RATIO:.2f}× a plain save(): {ratios}; a conflict is found from the "
            "UPDATE's row count (d), then one SELECT tells a changed row from a deleted one.",
            f"django-concurrency (c), 2 statements per save: {peer}; "
            f"prodkit (b) is faster than it by {speed_up}.",
        ]
    )


_distributions = ["django-prodkit", "django-concurrency"]
if DATABASE.postgres_url is not None:
    _distributions.append("psycopg")

SPEC = Benchmark(
    name="locking",
    title="Optimistic locking: save() of a loaded row, prodkit vs a plain model and django-concurrency",
    baseline="a",
    installed_apps=["django_prodkit", "concurrency", APP_LABEL],
    settings={"DATABASES": {"default": DATABASE.settings}},
    distributions=_distributions,
    build=build,
    extra=extra,
    requests=SAVES_PER_ROUND,
)
