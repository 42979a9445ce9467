"""``structural_findings()`` used the way a project's own test suite would use it."""

from __future__ import annotations

import pytest
from django.test import TestCase

from django_prodkit.checks.indexes import structural_findings


@pytest.mark.django_db
def test_the_installed_models_have_no_index_problem():
    # What a project writes in its own suite: the test database is built by the
    # migrations, so this catches a missing foreign-key index before production.
    problems = [f for f in structural_findings() if f.level != "info"]

    assert problems == [], "\n".join(f"{f.id} {f.message}" for f in problems)


class IndexTests(TestCase):
    """The same in a unittest suite (manage.py test)."""

    def test_no_index_problem(self) -> None:
        problems = [f for f in structural_findings() if f.level != "info"]
        self.assertEqual(problems, [])  # noqa: PT009 - the unittest way, on purpose.


@pytest.mark.django_db
def test_prodkit_own_tables_raise_no_finding_at_all():
    findings = structural_findings()

    assert [f for f in findings if (f.table or "").startswith("prodkit_")] == []


@pytest.mark.django_db
def test_a_package_model_gets_no_model_change_to_make():
    [permission] = [f for f in structural_findings() if f.table == "auth_permission"]

    assert (permission.kind, permission.level) == ("fk_redundant", "info")
    assert permission.hint.startswith("The model belongs to an installed package")
    assert permission.fix_operation is None
    assert permission.fix_sql is not None
