"""Normalising SQL so that PostgreSQL's and Django's spelling of one condition match."""

from __future__ import annotations

import pytest

from django_prodkit.checks.indexes.catalog_sqlite import split_create_index
from django_prodkit.checks.indexes.definitions import identifiers, normalize_sql


@pytest.mark.parametrize(
    ("postgresql", "django"),
    [
        ("(deleted_at IS NULL)", '"deleted_at" IS NULL'),
        ("((status)::text = 'active'::text)", "\"status\" = 'active'"),
        (
            "((status)::text = ANY ((ARRAY['a'::character varying, "
            "'b'::character varying])::text[]))",
            "\"status\" IN ('a', 'b')",
        ),
        ("(flag AND (NOT done))", '("flag" AND NOT "done")'),
        ("(amount > (0)::numeric)", '"amount" > 0'),
        ("((name)::text ~~ 'a%'::text)", "\"name\"::text LIKE 'a%'"),
        ("lower((title)::text)", 'LOWER("title")'),
        (
            "(created > '2020-01-01 00:00:00+00'::timestamp with time zone)",
            "\"created\" > '2020-01-01 00:00:00+00'",
        ),
    ],
)
def test_both_spellings_normalise_the_same(postgresql, django):
    assert normalize_sql(postgresql) == normalize_sql(django)


def test_string_literals_keep_their_case():
    assert normalize_sql("status = 'Active'") != normalize_sql("status = 'active'")


def test_empty_sql_is_none():
    assert normalize_sql("  ") is None
    assert normalize_sql(None) is None


def test_identifiers_leave_literals_out():
    assert identifiers("lower(\"Name\") = 'title'") == {"lower", "name"}


def test_split_create_index_reads_items_and_predicate():
    items, where = split_create_index(
        'CREATE UNIQUE INDEX "x" ON "t" (lower("a"), "b" DESC, substr("c", 1, 2)) '
        "WHERE \"d\" = 'it''s (here)'"
    )

    assert items == ['lower("a")', '"b" DESC', 'substr("c", 1, 2)']
    assert where == "\"d\" = 'it''s (here)'"
