"""Retention: pruning old resolved and ignored groups, and ``prodkit_errors prune``."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_prodkit.errors.models import ErrorGroup
from django_prodkit.errors.retention import prune
from django_prodkit.management.commands.prodkit_errors import Command

ROOT = Path(__file__).resolve().parents[2]
Status = ErrorGroup.Status


def make(key, status, age_days, **fields):
    return ErrorGroup.objects.create(
        fingerprint=key.ljust(64, "0"),
        source="log",
        status=status,
        last_seen=timezone.now() - dt.timedelta(days=age_days),
        **fields,
    )


def many(count, status=Status.RESOLVED, age_days=200):
    last_seen = timezone.now() - dt.timedelta(days=age_days)
    ErrorGroup.objects.bulk_create(
        ErrorGroup(
            fingerprint=f"{status}-{i:06d}".ljust(64, "0"),
            source="log",
            status=status,
            last_seen=last_seen,
        )
        for i in range(count)
    )


@pytest.fixture
def groups(db):
    return {
        "old-resolved": make("old-resolved", Status.RESOLVED, 120),
        "old-ignored": make("old-ignored", Status.IGNORED, 91),
        "old-unresolved": make("old-unresolved", Status.UNRESOLVED, 400),
        "recent-resolved": make("recent-resolved", Status.RESOLVED, 89),
        "recent-ignored": make("recent-ignored", Status.IGNORED, 1),
    }


def left():
    return sorted(row.fingerprint.rstrip("0") for row in ErrorGroup.objects.all())


class TestPrune:
    def test_removes_old_resolved_and_ignored_keeps_unresolved_and_recent(self, groups):
        assert prune() == 2
        assert left() == ["old-unresolved", "recent-ignored", "recent-resolved"]

    def test_days_overrides_the_setting(self, groups):
        assert prune(30) == 3
        assert left() == ["old-unresolved", "recent-ignored"]

    def test_days_default_to_the_retention_setting(self, groups, settings):
        settings.PRODKIT = {"ERRORS": {"RETENTION_DAYS": 100}}
        assert prune() == 1
        assert "old-ignored" in left()

    def test_dry_run_counts_and_deletes_nothing(self, groups):
        assert prune(dry_run=True) == 2
        assert len(left()) == 5

    def test_an_empty_table_is_fine(self, db):
        assert prune() == 0

    def test_deletes_in_batches_of_bounded_size(self, db):
        many(25)
        with CaptureQueriesContext(connection) as captured:
            assert prune(batch_size=10) == 25

        deletes = [q["sql"] for q in captured if q["sql"].startswith("DELETE")]
        assert len(deletes) == 3
        assert ErrorGroup.objects.count() == 0

    def test_a_full_last_batch_needs_one_more_look(self, db, django_assert_num_queries):
        many(10)
        # SELECT ids, DELETE, then a SELECT that finds nothing.
        with django_assert_num_queries(3):
            assert prune(batch_size=10) == 10

    def test_a_group_that_occurs_again_meanwhile_is_kept(self, groups):
        old = groups["old-resolved"]

        def regress_after_select(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if sql.startswith("SELECT"):
                # What the writer does when the group occurs between the two queries.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "UPDATE prodkit_errorgroup SET status = %s WHERE id = %s",
                        ["unresolved", old.pk],
                    )
            return result

        with connection.execute_wrapper(regress_after_select):
            assert prune() == 1
        assert "old-resolved" in left()

    @pytest.mark.parametrize("days", [0, -5])
    def test_days_must_be_positive(self, db, days):
        with pytest.raises(ValueError, match="at least 1"):
            prune(days)


class TestCommand:
    def run(self, *args):
        out = io.StringIO()
        call_command("prodkit_errors", "prune", *args, stdout=out)
        return out.getvalue()

    def test_prune_says_what_it_deleted(self, groups):
        assert self.run() == (
            "Deleted 2 resolved or ignored error groups last seen more than 90 "
            "days ago (database 'default').\n"
        )
        assert len(left()) == 3

    def test_dry_run_says_what_it_would_delete(self, groups):
        assert self.run("--dry-run", "--days", "30") == (
            "Would delete 3 resolved or ignored error groups last seen more than 30 "
            "days ago (database 'default').\n"
        )
        assert len(left()) == 5

    def test_singular(self, db):
        make("one", Status.IGNORED, 5)
        assert self.run("--days", "1", "--database", "default") == (
            "Deleted 1 resolved or ignored error group last seen more than 1 day ago "
            "(database 'default').\n"
        )

    def test_unknown_database_is_a_usage_error(self, groups):
        with pytest.raises(CommandError, match="unknown database alias 'nope'") as info:
            self.run("--database", "nope")
        assert info.value.returncode == 2
        assert len(left()) == 5

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            ([], "the following arguments are required: ACTION"),
            (["purge"], "invalid choice: 'purge'"),
            (["prune", "--days", "0"], "must be a whole number of days >= 1: '0'"),
            (["prune", "--days", "soon"], "must be a whole number of days >= 1"),
            (["prune", "--force"], "unrecognized arguments: --force"),
        ],
    )
    def test_usage_errors_exit_2(self, db, capsys, argv, message):
        with pytest.raises(SystemExit) as info:
            Command().run_from_argv(["manage.py", "prodkit_errors", *argv])

        assert info.value.code == 2
        assert message in capsys.readouterr().err


def manage(*args, database_url):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "django", "prodkit_errors", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_database_error_exits_1_with_a_message_and_no_traceback(tmp_path):
    # A database file in a directory that does not exist cannot be opened.
    url = f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}"
    result = manage("prune", database_url=url)

    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(
        "CommandError: could not prune error groups in database 'default': "
    )
    assert "unable to open database file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_usage_error_exits_2_from_the_command_line(tmp_path):
    result = manage("prune", "--days", "x", database_url="sqlite://:memory:")

    assert result.returncode == 2
    assert "--days: must be a whole number of days >= 1: 'x'" in result.stderr
    assert "Traceback" not in result.stderr
