"""The gate's engine in this process, on the test database."""

from __future__ import annotations

import copy
import json
from io import StringIO

import pytest
from django.core import checks
from django.core.checks.registry import registry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from django_prodkit.checks import gate
from django_prodkit.checks.gate import migrations
from django_prodkit.management.commands.prodkit_check import Command
from tests.dead_services import closed_port

pytestmark = pytest.mark.django_db


def ids(report) -> set[str]:
    return {result.id for result in report.results}


def prodkit_check(*args):
    out = StringIO()
    try:
        call_command("prodkit_check", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_a_tag_selects_only_checks_with_that_tag():
    report = gate.run(["security"])

    assert report.results
    assert all("security" in result.tags for result in report.results)
    assert "security.W004" in ids(report)


def test_gate_tags_select_the_gate_sections():
    report = gate.run(["connectivity"])

    assert ids(report) == {"prodkit.I105"}
    assert {result.obj for result in report.results} == {
        "DATABASES['default']",
        "CACHES['default']",
    }


def test_tags_may_be_repeated():
    code, out = prodkit_check("--tag", "connectivity", "--tag", "migrations")

    assert code == 0, out
    assert "(prodkit.I105)" in out
    assert "(security." not in out


def test_unknown_tag_is_a_usage_error_with_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        Command().run_from_argv(["manage.py", "prodkit_check", "--tag", "nope"])

    assert raised.value.code == 2
    assert "Unknown tag: nope. Use one of:" in capsys.readouterr().err


def test_unknown_fail_level_is_a_usage_error_with_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        Command().run_from_argv(["manage.py", "prodkit_check", "--fail-level", "debug"])

    assert raised.value.code == 2


def test_gate_database_not_in_databases_is_a_usage_error(settings):
    settings.PRODKIT = {"GATE": {"DATABASES": ["replica"]}}

    code, _ = prodkit_check("--tag", "connectivity")

    assert code == 2


def test_silenced_ids_are_not_reported(settings):
    settings.SILENCED_SYSTEM_CHECKS = ["prodkit.I105", "security.W004"]

    report = gate.run(["connectivity", "security"])

    assert "prodkit.I105" not in ids(report)
    assert "security.W004" not in ids(report)
    assert "security.W008" in ids(report)


def test_fail_level_counts_results_at_or_above_it():
    report = gate.run(["connectivity"])

    assert report.passed("error")
    assert report.passed("warning")
    assert not report.passed("info")


def test_fail_level_warning_turns_a_warning_into_exit_1(settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]

    at_error, _ = prodkit_check("--tag", "prodkit")
    at_warning, out = prodkit_check("--tag", "prodkit", "--fail-level", "warning")

    assert (at_error, at_warning) == (0, 1)
    assert "ERRORS:" not in out
    assert out.rstrip().endswith("failed at fail level warning.")


def test_json_output_is_one_document():
    code, out = prodkit_check("--tag", "connectivity", "--format", "json")

    document = json.loads(out)
    assert code == 0
    assert document["passed"] is True
    assert {result["id"] for result in document["results"]} == {"prodkit.I105"}
    assert document["results"][0]["tags"] == ["connectivity"]


def test_text_groups_by_level_most_severe_first_with_a_summary(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = None

    code, out = prodkit_check("--tag", "connectivity", "--tag", "prodkit")

    assert out.index("ERRORS:") < out.index("WARNINGS:") < out.index("INFOS:")
    assert (
        "DATA_UPLOAD_MAX_NUMBER_FILES: (prodkit.W108) DATA_UPLOAD_MAX_NUMBER_FILES is None"
        in out
    )
    assert "\tHINT: Remove DATA_UPLOAD_MAX_NUMBER_FILES" in out
    assert out.rstrip().splitlines()[-1].endswith("failed at fail level error.")
    assert code == 1


def test_text_is_coloured_only_when_asked():
    out = StringIO()
    call_command("prodkit_check", "--tag", "connectivity", stdout=out, force_color=True)
    plain = StringIO()
    call_command("prodkit_check", "--tag", "connectivity", stdout=plain)

    assert "\x1b[" in out.getvalue()
    assert "\x1b[" not in plain.getvalue()


def test_a_check_that_raises_is_one_error_result_not_a_traceback():
    def broken_check(app_configs, **kwargs):
        raise RuntimeError("boom")

    registry.register(broken_check, "gate-test")
    try:
        report = gate.run(["gate-test"])
    finally:
        registry.registered_checks.discard(broken_check)

    [result] = report.results
    assert (result.id, result.level) == ("prodkit.E104", "error")
    assert "broken_check: RuntimeError: boom" in result.message
    assert result.tags == ("gate-test",)
    assert result.obj is not None
    assert result.obj.endswith("broken_check")


def test_a_cache_that_ignores_exceptions_is_still_reported_down(settings):
    pytest.importorskip("django_redis")
    settings.CACHES = {
        **settings.CACHES,
        "dead": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        },
    }

    report = gate.run(["connectivity"])

    [down] = [result for result in report.results if result.id == "prodkit.E103"]
    assert down.obj == "CACHES['dead']"
    assert "did not return the value just written" in down.message


def test_a_dummy_cache_is_not_probed(settings):
    settings.CACHES = {
        **settings.CACHES,
        "off": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }

    report = gate.run(["connectivity"])

    assert "CACHES['off']" not in {result.obj for result in report.results}


def test_a_fully_migrated_test_database_has_nothing_unapplied():
    assert migrations.unapplied("default") == []


def test_a_migration_missing_from_the_history_is_unapplied():
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'sessions' AND name = '0001_initial'"
        )

    [result] = migrations.unapplied("default")

    assert result.id == "prodkit.E100"
    assert result.message == (
        "Database 'default' has 1 unapplied migration: sessions.0001_initial."
    )


class KeepSessionsElsewhere:
    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if app_label == "sessions" else None


def test_an_app_the_routers_keep_off_a_database_does_not_count(settings):
    settings.DATABASE_ROUTERS = [KeepSessionsElsewhere()]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'sessions'")

    assert migrations.unapplied("default") == []


def test_level_names_follow_django_levels():
    message = checks.Warning("x", id="demo.W001")

    result = gate.Result.from_message(message, ("demo",))

    assert (result.level, result.obj, result.hint) == ("warning", None, None)


@pytest.mark.postgres
def test_database_checks_are_given_the_databases_that_answered():
    # prodkit.W081 asks the server only for the databases a check is given; read from
    # the settings alone, the test database has no statement_timeout. SET is undone
    # with the test's transaction.
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '5s'")

    report = gate.run(["prodkit"])

    assert "prodkit.W081" not in ids(report)


@pytest.mark.django_db(transaction=True)
def test_index_findings_are_results_at_their_level_under_the_indexes_tag():
    # Committed, so that the gate's probe thread can connect: SQLite locks the schema
    # of a shared in-memory database while another connection changes it.
    from tests.locking.models import Comment

    declared = Comment._meta.get_field("note")
    dropped = copy.copy(declared)
    dropped.db_index = False  # type: ignore[attr-defined]
    with connection.schema_editor() as editor:
        editor.alter_field(Comment, declared, dropped)
    try:
        report = gate.run(["indexes"])
    finally:
        with connection.schema_editor() as editor:
            editor.alter_field(Comment, dropped, declared)

    [missing] = [result for result in report.results if result.id == "prodkit.E111"]
    assert (missing.level, missing.obj, missing.tags) == (
        "error",
        "locking_tests.Comment",
        ("indexes",),
    )
    assert not report.passed("error")
    assert all(
        entry.startswith("indexes on database 'default': ") for entry in report.skipped
    )
