"""EXPLAIN of the slowest sample: PostgreSQL, SELECT only, with the plan's values redacted."""

from __future__ import annotations

import pytest
from django.db import connection

from django_prodkit import queries
from django_prodkit.queries.explain import is_explainable, redact_plan
from django_prodkit.queries.models import SlowQuery
from django_prodkit.queries.writer import writer
from tests.queries.conftest import key_of

SECRET = "s3cr3t-plan-9a8b7c"
PLAN = """Result  (cost=0.01..0.02 rows=1 width=8)
  InitPlan 1 (returns $0)
    ->  Aggregate  (cost=8.30..8.31 rows=1 width=8)
          ->  Index Scan using auth_user_username_key on auth_user  (cost=0.28..8.30 rows=1 width=0)
                Index Cond: ((username)::text = 'o''brien'::text)
                Filter: ((id > 12345) AND (is_active = true) AND (t1.col2 < -4.5))"""


def test_a_plan_keeps_its_shape_and_loses_its_values():
    redacted = redact_plan(PLAN)
    assert "brien" not in redacted
    assert "12345" not in redacted
    assert "4.5" not in redacted
    assert "Index Cond: ((username)::text = '?'::text)" in redacted
    assert "Filter: ((id > ?) AND (is_active = ?) AND (t1.col2 < ?))" in redacted
    # The planner's estimates are not values of the query: they stay.
    assert "(cost=8.30..8.31 rows=1 width=8)" in redacted


@pytest.mark.parametrize(
    ("sql", "explainable"),
    [
        ("SELECT ? FROM t", True),
        (" ( SELECT ? ) UNION ( SELECT ? )", True),
        ("WITH x AS (SELECT ?) SELECT * FROM x", True),
        ('SELECT "update" FROM "shop_update"', True),
        ("WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x", False),
        ("SELECT ? INTO t2 FROM t", False),
        ("SELECT * FROM t FOR UPDATE", False),
        ("UPDATE t SET a = ?", False),
        ("INSERT INTO t VALUES (...)", False),
    ],
)
def test_only_plain_reads_are_explained(sql, explainable):
    assert is_explainable(sql) is explainable


SLOW_SELECT = (
    "SELECT pg_sleep(0.06), (SELECT count(*) FROM auth_user "
    "WHERE username = %s AND id > %s)"
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_slowest_sample_gets_a_redacted_plan(settings):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "EXPLAIN": True}}
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SELECT, [SECRET, 987654])
    assert queries.flush()

    row = SlowQuery.objects.get(fingerprint=key_of(SLOW_SELECT))
    assert "auth_user" in row.plan
    assert "'?'::text" in row.plan
    assert SECRET not in row.plan
    assert "987654" not in row.plan
    assert "ANALYZE" not in row.plan
    assert "actual time" not in row.plan
    assert row.plan_at is not None
    assert writer.plans == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sample_that_is_not_the_slowest_is_not_explained_again(settings):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "EXPLAIN": True}}
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SELECT.replace("0.06", "0.2"), [SECRET, 1])
    assert queries.flush()
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SELECT.replace("0.06", "0.2"), [SECRET, 2])
        cursor.execute(SLOW_SELECT.replace("0.06", "0.2"), [SECRET, 3])
    assert queries.flush()
    assert writer.plans in (1, 2)  # Again only if a later run was slower still.
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SELECT, [SECRET, 4])  # Faster than the stored maximum.
    plans = writer.plans
    assert queries.flush()
    assert writer.plans == plans


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_writes_and_switched_off_explain_get_no_plan(settings):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "EXPLAIN": True}}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE prodkit_explain_t (a int)")
        try:
            cursor.execute(
                "INSERT INTO prodkit_explain_t SELECT %s FROM pg_sleep(0.06)", [1]
            )
        finally:
            cursor.execute("DROP TABLE prodkit_explain_t")
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40}}
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SELECT, [SECRET, 1])
    assert queries.flush()
    # The INSERT and the SELECT; on a loaded server the CREATE or the DROP may pass the
    # 40 ms threshold too, and neither gets a plan either.
    stored = list(SlowQuery.objects.values_list("sql", flat=True))
    assert sum(sql.startswith("INSERT INTO prodkit_explain_t") for sql in stored) == 1
    assert sum(sql.startswith("SELECT pg_sleep") for sql in stored) == 1
    assert not SlowQuery.objects.exclude(plan="").exists()
    assert writer.plans == 0
