"""Normalising SQL so that PostgreSQL's and Django's spelling of one condition match."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.auth.models import User
from django.core.checks import Error, Info

from django_prodkit.checks.indexes import Finding
from django_prodkit.checks.indexes.catalog_sqlite import split_create_index
from django_prodkit.checks.indexes.definitions import (
    IndexDef,
    Key,
    identifiers,
    normalize_sql,
)


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


def test_a_key_and_an_index_describe_themselves_as_sql():
    keys = (
        Key("name", opclass="varchar_pattern_ops", descending=True),
        Key(None, "lowertitle", collation="C", nulls_first=True, sql="lower(title)"),
    )
    index = IndexDef(
        table="t",
        name="i",
        method="gist",
        keys=keys,
        include=("a",),
        unique=True,
        nulls_not_distinct=True,
        predicate="aisnotnull",
        predicate_sql="(a IS NOT NULL)",
    )

    assert index.describe() == (
        'UNIQUE USING gist (name varchar_pattern_ops DESC, lower(title) COLLATE "C" '
        "NULLS FIRST) INCLUDE (a) NULLS NOT DISTINCT WHERE (a IS NOT NULL)"
    )
    assert index.columns == ("name",)


def test_a_finding_becomes_a_check_message_with_its_model():
    finding = Finding(
        id="prodkit.W110",
        kind="fk_without_index",
        level="info",
        database="default",
        table="auth_user",
        message="m",
        hint="h",
        model_class=User,
    )

    message = finding.check_message()
    assert isinstance(message, Info)
    assert (message.id, message.msg, message.hint, message.obj) == (
        "prodkit.W110",
        "m",
        "h",
        User,
    )
    assert not finding.at_least("warning")
    table_only = dataclasses.replace(finding, level="error", model_class=None)
    assert isinstance(table_only.check_message(), Error)
    assert table_only.check_message().obj == "auth_user"
