"""Normalised SQL: literals and placeholders gone, lists collapsed, one shape per query."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection

from django_prodkit.queries import fingerprint, normalise


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 2"),
        ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (7)"),
        ("SELECT * FROM t WHERE id IN (%s, %s)", "SELECT * FROM t WHERE id IN (%s)"),
        (
            "SELECT * FROM t WHERE name = 'ann'",
            "SELECT * FROM t WHERE name = 'o''brien'",
        ),
        ("SELECT * FROM t WHERE x = -1.5e3", "SELECT * FROM t WHERE x = 42"),
        ("SELECT * FROM t WHERE a = true", "SELECT * FROM t WHERE a = FALSE"),
        ("SELECT * FROM t WHERE a = $1", "SELECT * FROM t WHERE a = %(name)s"),
        (
            "SELECT  *\n FROM t /* note */ WHERE a = ?",
            "SELECT * FROM t WHERE a = ? -- x",
        ),
        (
            "INSERT INTO t (a, b) VALUES (1, 'x')",
            "INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s)",
        ),
        ("SELECT $$it's$$", "SELECT $tag$ a $tag$"),
        ("SELECT E'it\\'s'", "SELECT X'00ff'"),
        (
            "SELECT * FROM t WHERE id = ANY(ARRAY[1, 2])",
            "SELECT * FROM t WHERE id = ANY(ARRAY[3])",
        ),
        ('SAVEPOINT "s1404_x1"', 'SAVEPOINT "s99_x12"'),
    ],
)
def test_literals_and_lists_give_one_fingerprint(first, second):
    assert normalise(first) == normalise(second)
    assert fingerprint(normalise(first)) == fingerprint(normalise(second))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT * FROM orders WHERE id = 1", "SELECT * FROM users WHERE id = 1"),
        ("SELECT a FROM t", "SELECT b FROM t"),
        ('SELECT "t1"."col2" FROM "t1"', 'SELECT "t1"."col3" FROM "t1"'),
        ("SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a > 1"),
    ],
)
def test_different_queries_give_different_fingerprints(first, second):
    assert fingerprint(normalise(first)) != fingerprint(normalise(second))


def test_identifiers_with_digits_and_casts_are_kept():
    sql = 'SELECT "t1"."col2", t2.x::text FROM "t1" JOIN t2 ON t2.id = 10'
    assert (
        normalise(sql)
        == 'SELECT "t1"."col2", t2.x::text FROM "t1" JOIN t2 ON t2.id = ?'
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'top secret' FROM t",
        "SELECT * FROM t WHERE a = 'top secret",  # Cut off inside the string.
        "SELECT * FROM t WHERE a = E'top\\' secret'",
        "SELECT * FROM t WHERE a = $q$top secret$q$",
        "SELECT * FROM t /* top secret */",
        "SELECT 1 -- top secret",
    ],
)
def test_no_value_survives(sql):
    assert "secret" not in normalise(sql)


def test_fingerprint_is_short_hex():
    key = fingerprint("SELECT ?")
    assert len(key) == 32
    assert int(key, 16) >= 0


@pytest.mark.django_db
def test_orm_lookups_with_other_values_share_a_fingerprint():
    seen = []

    def keep(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        list(User.objects.filter(pk__in=[1, 2, 3]))
        list(User.objects.filter(pk__in=[4]))
        list(User.objects.filter(username="a"))
    assert len({fingerprint(normalise(sql)) for sql in seen[:2]}) == 1
    assert fingerprint(normalise(seen[0])) != fingerprint(normalise(seen[2]))


def test_only_templates_are_kept_in_the_cache():
    from django_prodkit.queries.fingerprint import _normalise_template

    before = _normalise_template.cache_info().currsize
    normalise("SELECT * FROM t WHERE token = 'kept-nowhere'")
    assert _normalise_template.cache_info().currsize == before
    normalise("SELECT * FROM t WHERE token = %s AND a = 1")
    assert _normalise_template.cache_info().currsize <= before + 1
