"""``manage.py prodkit_indexes``: output, JSON shape and exit codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from django_prodkit.checks.indexes import Report, inspect
from django_prodkit.management.commands import prodkit_indexes
from tests.dead_services import add_alias, remove_alias, sqlite_down

FINDING_KEYS = {
    "id",
    "kind",
    "level",
    "database",
    "table",
    "columns",
    "index",
    "model",
    "model_file",
    "message",
    "hint",
    "fix",
}


def run(*args: str) -> str:
    out = StringIO()
    call_command("prodkit_indexes", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def on_defects(defects, monkeypatch):
    """The command inspects the defective schema, structural checks only (so that a
    PostgreSQL run has no lock_timeout warning)."""

    def structural(alias: str, statistics: bool) -> Report:
        return inspect(alias, statistics=False, models=defects)

    monkeypatch.setattr(prodkit_indexes, "inspect", structural)
    return defects


def test_json_has_the_documented_shape(on_defects):
    with pytest.raises(CommandError) as failed:
        run("--format", "json")

    assert failed.value.returncode == 1  # E111 is an error.


def test_json_document(on_defects, capsys):
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("prodkit_indexes", "--format", "json", stdout=out)
    body = json.loads(out.getvalue())

    assert set(body) == {"database", "vendor", "queries", "findings", "skipped"}
    assert body["database"] == "default"
    assert isinstance(body["skipped"], list)
    assert body["findings"]
    for finding in body["findings"]:
        assert set(finding) == FINDING_KEYS
        assert set(finding["fix"]) == {"sql", "operation"}
        assert finding["level"] in {"error", "warning", "info"}
        assert isinstance(finding["columns"], list)
    assert [f["level"] for f in body["findings"]][0] == "error"


def test_text_groups_by_level_with_fixes_and_a_summary(on_defects):
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 finding\(s\) at or above 'error'"):
        call_command("prodkit_indexes", stdout=out)
    text = out.getvalue()

    assert text.index("Errors (1)") < text.index("Warnings (5)")
    assert "prodkit.E111 indexes_tests_book (title):" in text
    assert "    model: indexes_tests.Book in tests/indexes/schema.py" in text
    assert "    sql: DROP INDEX" in text
    assert "    change: " in text
    assert f"Database 'default' ({connection.vendor}): 1 error, 5 warnings, " in text


def test_warnings_pass_at_the_default_fail_level(db):
    out = run("--structural")

    assert "Database 'default'" in out


def test_fail_level_info_fails_on_info_findings(db):
    # django.contrib.auth's many-to-many tables carry Django's redundant index.
    with pytest.raises(CommandError) as failed:
        run("--fail-level", "info", "--structural")

    assert failed.value.returncode == 1


def test_an_unknown_database_is_a_usage_error():
    with pytest.raises(CommandError, match="Unknown database 'nope'") as failed:
        run("--database", "nope")

    assert failed.value.returncode == 2


def test_a_database_that_is_down_exits_1(monkeypatch, settings, django_db_blocker):
    add_alias(monkeypatch, settings, django_db_blocker, "down", sqlite_down("down"))
    try:
        with pytest.raises(CommandError, match="Cannot inspect database 'down'") as e:
            run("--database", "down")
    finally:
        remove_alias("down")

    assert e.value.returncode == 1
