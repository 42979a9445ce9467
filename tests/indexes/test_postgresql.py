"""Index inspection on a real PostgreSQL, on a throwaway schema with one of each defect."""

from __future__ import annotations

import time

import pytest
from django.apps.registry import Apps
from django.db import IntegrityError, connection, models
from django.db.models import F
from django.db.models.functions import Collate, Lower, Upper

from django_prodkit.checks.indexes import inspect, structural_findings
from django_prodkit.checks.indexes.declared import declared_indexes
from tests.indexes import schema
from tests.indexes.conftest import by_kind, table_findings

pytestmark = pytest.mark.postgres
# The "core" environment installs no extras: no psycopg, and no PostgreSQL run either.
psycopg = pytest.importorskip("psycopg")


def test_each_defect_is_reported_once_with_its_fix(defects):
    report = inspect(models=defects, statistics=False)

    found = by_kind(report)
    assert {kind: len(items) for kind, items in found.items()} == {
        "fk_without_index": 1,
        "missing": 1,
        "undeclared": 1,
        "duplicate": 1,
        "redundant": 1,
        "fk_redundant": 1,
    }
    [fk] = found["fk_without_index"]
    assert (fk.id, fk.level, fk.table, fk.columns) == (
        "prodkit.W110",
        "warning",
        "indexes_tests_book",
        ("author_id",),
    )
    assert fk.model == "indexes_tests.Book"
    assert fk.model_file == "tests/indexes/schema.py"
    assert fk.fix_sql is not None
    assert fk.fix_sql.startswith("CREATE INDEX CONCURRENTLY ")
    assert fk.fix_sql.endswith('ON "indexes_tests_book" ("author_id");')
    assert fk.fix_operation is not None
    assert "AddIndexConcurrently" in fk.fix_operation

    [missing] = found["missing"]
    assert (missing.id, missing.level, missing.index) == (
        "prodkit.E111",
        "error",
        "book_title_idx",
    )
    assert missing.fix_sql == (
        'CREATE INDEX CONCURRENTLY "book_title_idx" ON "indexes_tests_book" ("title");'
    )

    [undeclared] = found["undeclared"]
    assert (undeclared.id, undeclared.index) == ("prodkit.W112", "review_rating_idx")
    assert (
        undeclared.fix_sql == 'DROP INDEX CONCURRENTLY IF EXISTS "review_rating_idx";'
    )
    assert undeclared.fix_operation is not None
    assert "models.Index(fields=['rating'], name='review_rating_idx')" in (
        undeclared.fix_operation
    )

    [duplicate] = found["duplicate"]
    assert (duplicate.id, duplicate.index) == ("prodkit.W113", "review_book_copy")
    assert duplicate.fix_sql == 'DROP INDEX CONCURRENTLY IF EXISTS "review_book_copy";'

    [redundant] = found["redundant"]
    assert (redundant.id, redundant.index) == ("prodkit.W114", "loan_created_idx")
    assert "loan_created_book_idx" in redundant.message
    assert redundant.fix_operation is not None
    assert 'RemoveIndexConcurrently("loan", "loan_created_idx")' in (
        redundant.fix_operation
    )

    [fk_redundant] = found["fk_redundant"]
    assert fk_redundant.id == "prodkit.W115"
    assert fk_redundant.columns == ("author_id",)
    assert "member_uniq" in fk_redundant.message
    assert fk_redundant.hint == "Set db_index=False on the field 'author'."
    assert fk_redundant.fix_operation is not None
    assert "db_index=False on indexes_tests.Membership.author" in (
        fk_redundant.fix_operation
    )


def test_each_finding_names_its_model_and_an_index_at_most_once(defects):
    report = inspect(models=defects, statistics=False)

    indexes = [f.index for f in report.findings if f.index]
    assert len(indexes) == len(set(indexes))
    assert all(f.model and f.fix_sql for f in report.findings)


def test_what_django_creates_on_purpose_raises_no_finding(clean):
    # _like indexes, partial and expression unique constraints, check constraints,
    # expression, descending, INCLUDE and partial indexes, unique_together.
    report = inspect(models=clean, statistics=False)

    assert report.findings == []
    assert report.skipped == [
        "unused indexes, sequential scans, sequences, transaction-ID age, long "
        "sessions and lock_timeout: structural checks only"
    ]


def test_a_partial_index_covers_a_foreign_key_only_when_it_keeps_every_value(
    schema_db,
):
    registry = Apps()

    class Parent(models.Model):  # noqa: DJ008
        class Meta:
            apps = registry
            app_label = "indexes_partial"

    class Child(models.Model):  # noqa: DJ008
        parent = models.ForeignKey(Parent, models.CASCADE, null=True, db_index=False)
        done = models.BooleanField(default=False)

        class Meta:
            apps = registry
            app_label = "indexes_partial"
            indexes = [
                models.Index(
                    fields=["parent"],
                    condition=models.Q(done=False),
                    name="child_parent_open",
                )
            ]

    with schema.tables([Parent, Child]) as chosen:
        found = by_kind(inspect(models=chosen, statistics=False))

    assert list(found) == ["fk_without_index"]


def test_auto_created_many_to_many_redundancy_is_info(schema_db):
    with schema.tables(schema.TAGS) as chosen:
        report = inspect(models=chosen, statistics=False)

    [finding] = report.findings
    assert (finding.id, finding.kind, finding.level) == (
        "prodkit.W115",
        "fk_redundant",
        "info",
    )
    assert finding.table == "indexes_tests_tag_articles"
    assert finding.model == "indexes_tests.Tag_articles"
    assert finding.fix_operation is not None
    assert "explicit through model" in finding.fix_operation


@pytest.mark.django_db
def test_installed_apps_pass_at_warning_and_prodkit_reports_nothing():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
    report = inspect()

    assert [f for f in report.findings if f.level != "info"] == []
    assert [f for f in report.findings if (f.model or "").startswith("prodkit.")] == []
    stock = {(f.table, f.kind) for f in report.findings}
    assert ("auth_user_groups", "fk_redundant") in stock


@pytest.mark.django_db(transaction=True)
def test_an_invalid_index_is_an_error_and_nothing_else(settings):
    settings.PRODKIT = {"INDEXES": {"STATS_MIN_AGE_HOURS": 0, "UNUSED_MIN_SIZE_MB": 0}}
    with schema.tables([schema.Event]) as chosen:
        schema.run_sql(
            "INSERT INTO indexes_tests_event (kind) VALUES ('a'), ('a')",
        )
        with pytest.raises(IntegrityError, match="could not create unique index"):
            schema.run_sql(
                "CREATE UNIQUE INDEX CONCURRENTLY event_kind_uniq "
                "ON indexes_tests_event (kind)"
            )
        report = inspect(models=chosen)

    [invalid] = [f for f in report.findings if f.index == "event_kind_uniq"]
    assert (invalid.id, invalid.kind, invalid.level) == (
        "prodkit.E116",
        "invalid",
        "error",
    )
    assert invalid.fix_sql == 'REINDEX INDEX CONCURRENTLY "event_kind_uniq";'
    assert "does not enforce its uniqueness" in invalid.message


def test_an_unused_index_is_info_with_its_size_and_the_reset_time(schema_db, settings):
    settings.PRODKIT = {"INDEXES": {"STATS_MIN_AGE_HOURS": 0, "UNUSED_MIN_SIZE_MB": 0}}
    with schema.tables([schema.Event]) as chosen:
        report = inspect(models=chosen)

    [unused] = by_kind(report)["unused"]
    assert (unused.id, unused.level, unused.index) == (
        "prodkit.I117",
        "info",
        "event_kind_idx",
    )
    assert "not been scanned on this node since the " in unused.message
    assert " kB)" in unused.message
    assert unused.fix_sql == 'DROP INDEX CONCURRENTLY IF EXISTS "event_kind_idx";'


def test_unused_indexes_stay_silent_while_the_statistics_are_young(schema_db, settings):
    settings.PRODKIT = {
        "INDEXES": {"STATS_MIN_AGE_HOURS": 10**6, "UNUSED_MIN_SIZE_MB": 0}
    }
    with schema.tables([schema.Event]) as chosen:
        report = inspect(models=chosen)

    assert "unused" not in by_kind(report)
    [reason] = [s for s in report.skipped if s.startswith("unused indexes")]
    assert "younger than INDEXES.STATS_MIN_AGE_HOURS (1e+06)" in reason


def test_unused_skips_the_sole_index_of_a_foreign_key(schema_db, settings):
    settings.PRODKIT = {"INDEXES": {"STATS_MIN_AGE_HOURS": 0, "UNUSED_MIN_SIZE_MB": 0}}
    with schema.tables(schema.CLEAN) as chosen:
        report = inspect(models=chosen)

    unused = {f.index for f in by_kind(report).get("unused", [])}
    assert "article_created_desc" in unused
    # Comment.author's index is the only one its foreign key can use.
    assert not any("comment_author_id" in name for name in unused if name)
    assert not any(name.endswith("_uniq") for name in unused if name)


def test_database_state_findings(schema_db, settings):
    settings.PRODKIT = {
        "INDEXES": {
            "XID_AGE": 1,
            "LONG_SESSION_SECONDS": 0.05,
            "SEQUENCE_RATIO": 0.5,
            "STATS_MIN_AGE_HOURS": 10**6,
        }
    }
    params = connection.get_connection_params()
    with schema.tables([schema.Event]) as chosen:
        schema.run_sql(
            "SELECT setval(pg_get_serial_sequence('indexes_tests_event', 'id'), "
            "2000000000)",
            "ALTER TABLE indexes_tests_event ADD CONSTRAINT event_kind_set "
            "CHECK (kind <> '') NOT VALID",
        )
        params["application_name"] = "idle-holder"
        with psycopg.connect(**params) as other:
            other.execute("SELECT 1")  # Opens a transaction, left idle.
            time.sleep(0.2)
            report = inspect(models=chosen)
            pid = other.info.backend_pid

    found = by_kind(report)
    [sequence] = found["sequence"]
    assert (sequence.id, sequence.columns) == ("prodkit.W119", ("id",))
    assert "93%" in sequence.message
    [not_valid] = found["not_valid"]
    assert (not_valid.id, not_valid.index) == ("prodkit.W120", "event_kind_set")
    assert not_valid.fix_sql == (
        'ALTER TABLE "indexes_tests_event" VALIDATE CONSTRAINT "event_kind_set";'
    )
    [xid] = found["xid_age"]
    assert (xid.id, xid.table) == ("prodkit.W121", None)
    sessions = [f for f in found["long_session"] if f"({pid})" in (f.fix_sql or "")]
    assert len(sessions) == 1
    assert "idle in transaction" in sessions[0].message
    assert "idle-holder" in sessions[0].message
    [lock] = found["lock_timeout"]
    assert lock.id == "prodkit.W123"


def test_a_lock_timeout_on_the_connection_silences_w123(schema_db):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
    report = inspect(models=[])

    assert "lock_timeout" not in by_kind(report)


def _generated(count: int) -> list[type[models.Model]]:
    registry = Apps()
    chosen: list[type[models.Model]] = []
    for number in range(count):
        attrs: dict[str, object] = {
            "__module__": __name__,
            "Meta": type("Meta", (), {"apps": registry, "app_label": "gen"}),
            "name": models.CharField(max_length=20, db_index=True),
        }
        if chosen:
            attrs["up"] = models.ForeignKey(chosen[-1], models.CASCADE)
        chosen.append(type(f"Gen{number}", (models.Model,), attrs))
    return chosen


def test_the_number_of_queries_does_not_grow_with_the_models(schema_db):
    with schema.tables(_generated(3)) as few:
        small = inspect(models=few)
    with schema.tables(_generated(40)) as many:
        large = inspect(models=many)

    assert small.queries == large.queries == 6
    assert table_findings(large) == []


def test_structural_findings_leave_statistics_out(defects, settings):
    settings.PRODKIT = {"INDEXES": {"STATS_MIN_AGE_HOURS": 0, "UNUSED_MIN_SIZE_MB": 0}}

    kinds = {f.kind for f in structural_findings(models=defects)}

    assert kinds == {
        "fk_without_index",
        "missing",
        "undeclared",
        "duplicate",
        "redundant",
        "fk_redundant",
    }


@pytest.mark.django_db(transaction=True)
def test_a_large_table_read_by_sequential_scans_is_a_hint(settings):
    if connection.pg_version < 150000:  # type: ignore[attr-defined]
        pytest.skip("pg_stat_force_next_flush() needs PostgreSQL 15")
    settings.PRODKIT = {"INDEXES": {"STATS_MIN_AGE_HOURS": 0, "SEQ_SCAN_MIN_ROWS": 100}}
    with schema.tables([schema.Event]) as chosen:
        schema.run_sql(
            "INSERT INTO indexes_tests_event (kind) "
            "SELECT 'k' || n FROM generate_series(1, 500) AS n",
            "SELECT count(*) FROM indexes_tests_event WHERE id > 0",
            "SELECT count(*) FROM indexes_tests_event WHERE id > 1",
            "SELECT pg_stat_force_next_flush()",
        )
        report = inspect(models=chosen)

    [hint] = by_kind(report)["seq_scans"]
    assert (hint.id, hint.level, hint.table) == (
        "prodkit.I118",
        "info",
        "indexes_tests_event",
    )
    assert "(500 rows)" in hint.message
    assert hint.fix_operation is not None


def test_a_missing_foreign_key_index_is_reported_once_as_missing(defects):
    [declared] = [
        d
        for d in declared_indexes(schema.Loan, connection)
        if d.source == "field" and d.field is not None and d.field.name == "book"
    ]
    schema.run_sql(f'DROP INDEX "{declared.definition.name}"')

    report = inspect(models=defects, statistics=False)

    loan = [f for f in report.findings if f.table == "indexes_tests_loan"]
    assert sorted((f.id, f.columns) for f in loan) == [
        ("prodkit.E111", ("book_id",)),
        ("prodkit.W114", ("created",)),
    ]


def test_include_columns_count_apart_from_key_columns(schema_db):
    registry = Apps()

    class Row(models.Model):  # noqa: DJ008
        a = models.IntegerField()
        b = models.IntegerField()
        c = models.IntegerField()

        class Meta:
            apps = registry
            app_label = "indexes_include"
            indexes = [
                models.Index(fields=["a", "b"], name="row_a_b"),
                models.Index(fields=["a"], include=["b"], name="row_a_incl_b"),
                models.Index(fields=["c"], include=["a"], name="row_c_incl_a"),
                models.Index(fields=["c", "b"], name="row_c_b"),
            ]
            constraints = [
                models.UniqueConstraint(
                    fields=["b"], include=["a"], name="row_b_uniq_incl_a"
                ),
            ]

    with schema.tables([Row]) as chosen:
        schema.run_sql("CREATE INDEX row_b_plain ON indexes_include_row (b)")
        report = inspect(models=chosen, statistics=False)

    found = sorted((f.kind, f.index) for f in report.findings)
    assert found == [
        # (a) INCLUDE (b): every lookup it serves, (a, b) serves with b at hand.
        ("redundant", "row_a_incl_b"),
        # (b) without INCLUDE is covered by the unique (b) INCLUDE (a); a unique
        # index is never reported itself.
        ("redundant", "row_b_plain"),
    ]


def test_a_missing_unique_constraint_is_rebuilt_concurrently_then_attached(
    schema_db,
):
    with schema.tables([schema.Author]) as chosen:
        schema.run_sql(
            "ALTER TABLE indexes_tests_author "
            "DROP CONSTRAINT indexes_tests_author_email_key"
        )
        report = inspect(models=chosen, statistics=False)

    [missing] = report.findings
    assert (missing.id, missing.columns) == ("prodkit.E111", ("email",))
    assert missing.fix_sql == (
        'CREATE UNIQUE INDEX CONCURRENTLY "indexes_tests_author_email_key" ON '
        '"indexes_tests_author" ("email"); ALTER TABLE "indexes_tests_author" ADD '
        'CONSTRAINT "indexes_tests_author_email_key" UNIQUE USING INDEX '
        '"indexes_tests_author_email_key";'
    )


def test_declared_twice_and_a_foreign_key_no_model_knows(schema_db):
    registry = Apps()

    class Pair(models.Model):  # noqa: DJ008
        a = models.IntegerField()
        b = models.IntegerField()

        class Meta:
            apps = registry
            app_label = "indexes_twice"
            unique_together = [("a", "b")]
            constraints = [models.UniqueConstraint(fields=["a", "b"], name="pair_ab")]

    with schema.tables([Pair]) as chosen:
        schema.run_sql(
            "ALTER TABLE indexes_twice_pair ADD COLUMN other_id integer "
            "REFERENCES indexes_twice_pair (id)"
        )
        report = inspect(models=chosen, statistics=False)

    found = by_kind(report)
    [duplicate] = found["duplicate"]
    assert duplicate.fix_sql is not None
    assert duplicate.fix_sql.startswith(
        'ALTER TABLE "indexes_twice_pair" DROP CONSTRAINT'
    )
    assert duplicate.fix_operation is not None
    assert duplicate.fix_operation.startswith("Remove ")
    [fk] = found["fk_without_index"]
    assert fk.columns == ("other_id",)
    assert fk.fix_sql == (
        'CREATE INDEX CONCURRENTLY "indexes_twice_pair_other_id_idx" ON '
        '"indexes_twice_pair" ("other_id");'
    )
    assert fk.fix_operation is None


def test_an_unsupported_database_is_skipped(db, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "oracle")

    report = inspect(models=[schema.Event])

    assert report.findings == []
    assert report.skipped == [
        "every check: oracle is not supported, only PostgreSQL and SQLite"
    ]


def test_postgresql_index_kinds_raise_no_false_finding(schema_db):
    from django.contrib.postgres.indexes import BTreeIndex, GinIndex, HashIndex

    registry = Apps()

    class Wide(models.Model):  # noqa: DJ008
        name = models.CharField(max_length=20)
        data = models.JSONField(default=dict)
        created = models.DateTimeField()
        n = models.IntegerField(null=True)

        class Meta:
            apps = registry
            app_label = "indexes_kinds"
            indexes = [
                models.Index(F("created").desc(), name="wide_created_desc"),
                models.Index(Collate("name", "C"), name="wide_name_c"),
                models.Index(Upper("name").desc(nulls_last=True), name="wide_upper"),
                GinIndex(fields=["data"], name="wide_data_gin"),
                BTreeIndex(fields=["n"], fillfactor=70, name="wide_n_btree"),
                HashIndex(fields=["name"], name="wide_name_hash"),
                # PostgreSQL prints the dates in UTC and the year as a range.
                models.Index(
                    fields=["n"],
                    condition=models.Q(n__gt=5, name__startswith="a")
                    | models.Q(created__year=2020),
                    name="wide_cond",
                ),
                models.Index(
                    fields=["name"], opclasses=["varchar_pattern_ops"], name="wide_ops"
                ),
            ]
            constraints = [
                models.UniqueConstraint(
                    Lower("name"), F("n"), name="wide_uniq", nulls_distinct=False
                )
            ]

    with schema.tables([Wide]) as chosen:
        report = inspect(models=chosen, statistics=False)

    assert report.findings == []


def test_a_column_index_is_not_taken_for_another_order(defects):
    schema.run_sql('CREATE INDEX book_title_desc ON indexes_tests_book ("title" DESC)')

    report = inspect(models=defects, statistics=False)

    book = sorted((f.kind, f.index) for f in report.findings if f.columns == ("title",))
    assert book == [("missing", "book_title_idx"), ("undeclared", "book_title_desc")]
