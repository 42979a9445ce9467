"""Index inspection on SQLite, the default test database: what introspection allows."""

from __future__ import annotations

import pytest
from django.db import connection

from django_prodkit.checks.indexes import inspect
from tests.indexes import schema
from tests.indexes.conftest import by_kind
from tests.indexes.test_postgresql import _generated

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the run's default database is not SQLite"
)


def test_sqlite_reports_the_structural_defects(defects):
    report = inspect(models=defects)

    assert {kind: len(items) for kind, items in by_kind(report).items()} == {
        "fk_without_index": 1,
        "missing": 1,
        "undeclared": 1,
        "duplicate": 1,
        "redundant": 1,
        "fk_redundant": 1,
    }
    [missing] = by_kind(report)["missing"]
    assert missing.fix_sql == (
        'CREATE INDEX "book_title_idx" ON "indexes_tests_book" ("title");'
    )
    [redundant] = by_kind(report)["redundant"]
    assert redundant.fix_sql == 'DROP INDEX IF EXISTS "loan_created_idx";'
    assert redundant.fix_operation is not None
    assert 'RemoveIndex("loan", "loan_created_idx")' in redundant.fix_operation


def test_sqlite_says_what_it_skipped(clean):
    report = inspect(models=clean)

    assert report.findings == []
    assert report.vendor == "sqlite"
    assert report.skipped == [
        "invalid indexes: SQLite has none",
        "unused indexes and sequential scans: SQLite keeps no usage statistics",
        "sequences, NOT VALID constraints, transaction-ID age, long sessions and "
        "lock_timeout: PostgreSQL only",
    ]


def test_sqlite_queries_do_not_grow_with_the_models(schema_db):
    with schema.tables(_generated(3)) as few:
        small = inspect(models=few)
    with schema.tables(_generated(40)) as many:
        large = inspect(models=many)

    assert small.queries == large.queries == 3
    assert large.findings == []


def test_a_table_that_is_not_there_is_skipped_not_reported(db):
    report = inspect(models=[schema.Event])

    assert report.findings == []
    assert (
        "table indexes_tests_event (indexes_tests.Event) is not in the database: are "
        "its migrations applied?" in report.skipped
    )


def test_a_missing_unique_field_index_is_recreated_as_a_unique_index(schema_db):
    with schema.tables([schema.Author]) as chosen:
        schema.run_sql(
            "DROP TABLE indexes_tests_author",
            'CREATE TABLE indexes_tests_author ("id" integer NOT NULL PRIMARY KEY '
            'AUTOINCREMENT, "name" varchar(50) NOT NULL, "email" varchar(80) NOT NULL)',
            'CREATE INDEX "indexes_tests_author_name_c497f411" ON '
            '"indexes_tests_author" ("name")',
        )
        report = inspect(models=chosen)

    [missing] = report.findings
    assert (missing.id, missing.columns) == ("prodkit.E111", ("email",))
    assert missing.fix_sql == (
        'CREATE UNIQUE INDEX "indexes_tests_author_email_key" ON '
        '"indexes_tests_author" ("email");'
    )
