from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, models

from django_prodkit.checks.indexes import Finding, Report
from tests.indexes import schema

# The raw SQL that turns the declared schema into the defective one.
DEFECT_SQL = (
    "DROP INDEX book_title_idx",
    "CREATE INDEX review_rating_idx ON indexes_tests_review (rating)",
    "CREATE INDEX review_book_copy ON indexes_tests_review (book_id)",
)


# Database access in which tables can be created: SQLite's schema editor refuses to run
# inside the test's transaction, while PostgreSQL rolls the tables back with it.
if connection.vendor == "sqlite":

    @pytest.fixture
    def schema_db(transactional_db: None) -> None:
        return None

else:

    @pytest.fixture
    def schema_db(db: None) -> None:
        return None


@pytest.fixture
def defects(schema_db: None) -> Iterator[list[type[models.Model]]]:
    with schema.tables(schema.DEFECTS) as chosen:
        schema.run_sql(*DEFECT_SQL)
        yield chosen


@pytest.fixture
def clean(schema_db: None) -> Iterator[list[type[models.Model]]]:
    with schema.tables(schema.CLEAN) as chosen:
        yield chosen


def by_kind(report: Report | list[Finding]) -> dict[str, list[Finding]]:
    findings = report.findings if isinstance(report, Report) else report
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.kind, []).append(finding)
    return out


def table_findings(report: Report) -> list[Finding]:
    """Findings about tables, leaving out database-wide ones (lock_timeout...)."""
    return [f for f in report.findings if f.table is not None]
