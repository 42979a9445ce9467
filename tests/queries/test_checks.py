"""Checks prodkit.E080 to W083: called directly, and proven registered."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection, connections

from django_prodkit.queries.checks import check_queries, check_statement_timeout
from tests.dead_services import add_alias, closed_port, remove_alias
from tests.queries.conftest import MIDDLEWARE


def ids(messages):
    return [message.id for message in messages]


@pytest.mark.parametrize(
    ("queries", "key"),
    [
        ({"ALIASES": ["default", "reports"]}, "ALIASES"),
        ({"ALIAS_SLOW_MS": {"reports": 5000}}, "ALIAS_SLOW_MS"),
        ({"DATABASE": "reports"}, "DATABASE"),
    ],
)
def test_an_alias_not_in_databases_is_an_error(settings, queries, key):
    settings.PRODKIT = {"QUERIES": queries}
    [message] = check_queries(None)
    assert message.id == "prodkit.E080"
    assert f"['{key}'] names database 'reports'" in message.msg
    assert message.hint == "Use one of: default."


# Django 6.1 checks JSONField support on each database: the run reads it.
@pytest.mark.django_db
def test_the_error_check_is_registered(settings):
    settings.PRODKIT = {"QUERIES": {"ALIASES": ["reports"]}}
    with pytest.raises(SystemCheckError, match=r"prodkit\.E080"):
        call_command("check")


def test_nothing_is_checked_when_disabled(settings):
    settings.PRODKIT = {"QUERIES": {"ENABLED": False, "ALIASES": ["reports"]}}
    assert check_queries(None) == []


def test_explain_without_postgresql_is_a_warning(settings):
    settings.PRODKIT = {"QUERIES": {"EXPLAIN": True}}
    expected = [] if connection.vendor == "postgresql" else ["prodkit.W082"]
    assert ids(check_queries(None)) == expected


def test_explain_on_an_untimed_postgresql_alias_is_a_warning(
    settings, monkeypatch, django_db_blocker
):
    pytest.importorskip("psycopg")
    add_alias(monkeypatch, settings, django_db_blocker, "pg", _postgres())
    try:
        settings.PRODKIT = {"QUERIES": {"EXPLAIN": True}}
        assert check_queries(None) == []
        settings.PRODKIT = {"QUERIES": {"EXPLAIN": True, "ALIASES": ["default"]}}
        expected = [] if connection.vendor == "postgresql" else ["prodkit.W082"]
        assert ids(check_queries(None)) == expected
    finally:
        remove_alias("pg")


@pytest.mark.parametrize(
    ("queries", "warned"),
    [
        ({}, False),
        ({"SLOW_MS": 100}, False),
        ({"N_PLUS_ONE": 5}, True),
        ({"N_PLUS_ONE": None}, False),
        ({"SERVER_TIMING": True}, True),
        ({"SERVER_TIMING": False}, False),
        ({"MAX_QUERIES": 50}, True),
        ({"MAX_DB_MS": 200}, True),
    ],
)
def test_per_request_features_without_the_middleware_warn(settings, queries, warned):
    settings.PRODKIT = {"QUERIES": queries}
    assert ids(check_queries(None)) == (["prodkit.W083"] if warned else [])
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    assert check_queries(None) == []


# Django 6.1 checks JSONField support on each database: the run reads it.
@pytest.mark.django_db
def test_the_warning_check_is_registered(settings):
    settings.PRODKIT = {"QUERIES": {"MAX_QUERIES": 50}}
    with pytest.raises(SystemCheckError, match=r"prodkit\.W083"):
        call_command("check", "--fail-level", "WARNING")


# Statement timeouts: read from the options, or asked of the server with --database.


def _postgres(options: str | None = None) -> dict[str, object]:
    config: dict[str, object] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "HOST": "127.0.0.1",
    }
    if options is not None:
        config["OPTIONS"] = {"options": options}
    return config


@pytest.fixture
def postgres_alias(settings, monkeypatch, django_db_blocker):
    pytest.importorskip("psycopg")

    def make(config):
        add_alias(monkeypatch, settings, django_db_blocker, "pg", config)
        return "pg"

    yield make
    remove_alias("pg")


@pytest.mark.parametrize(
    ("options", "warned"),
    [
        (None, True),
        ("", True),
        ("-c search_path=app", True),
        ("-c statement_timeout=0", True),
        ("-c statement_timeout=5000", False),
        ("-c search_path=app -cstatement_timeout=5s", False),
        ("--statement-timeout=2000", False),
    ],
)
def test_a_postgresql_database_without_statement_timeout_warns(
    postgres_alias, monkeypatch, options, warned
):
    monkeypatch.delenv("PGOPTIONS", raising=False)
    postgres_alias(_postgres(options))
    messages = [m for m in check_statement_timeout(None) if "'pg'" in m.msg]
    assert ids(messages) == (["prodkit.W081"] if warned else [])
    if warned:
        assert "statement_timeout=5000" in (messages[0].hint or "")


def test_pgoptions_counts_when_the_connection_gives_none(postgres_alias, monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=3000")
    postgres_alias(_postgres())
    assert not [m for m in check_statement_timeout(None) if "'pg'" in m.msg]


def test_other_databases_need_no_statement_timeout(settings):
    if connection.vendor == "postgresql":
        pytest.skip("the default database is PostgreSQL in this run")
    assert check_statement_timeout(None) == []


# Django 6.1 checks JSONField support on each database: the run reads it.
@pytest.mark.django_db
def test_the_deploy_check_is_registered(postgres_alias):
    postgres_alias(_postgres())
    with pytest.raises(SystemCheckError, match=r"prodkit\.W081"):
        call_command("check", "--deploy", "--fail-level", "WARNING")


@pytest.mark.postgres
@pytest.mark.django_db
def test_with_database_the_server_is_asked(postgres_alias):
    assert ids(check_statement_timeout(None, databases=["default"])) == ["prodkit.W081"]
    # The server's answer wins over the options: this one has a timeout set by them.
    postgres_alias(
        {
            **connections["default"].settings_dict,
            "OPTIONS": {"options": "-c statement_timeout=5000"},
        }
    )
    found = check_statement_timeout(None, databases=["default", "pg"])
    assert [m.msg.split("'")[1] for m in found] == ["default"]


def test_an_unreachable_server_is_judged_by_its_options(postgres_alias):
    # Django 6.1's check command passes every alias as databases: a server that is not
    # there (or not yet) must not hide a missing timeout, nor invent one.
    port = str(closed_port())
    postgres_alias({**_postgres(), "PORT": port})
    found = check_statement_timeout(None, databases=["pg"])
    assert ids([m for m in found if "'pg'" in m.msg]) == ["prodkit.W081"]
    remove_alias("pg")
    postgres_alias({**_postgres("-c statement_timeout=5000"), "PORT": port})
    found = check_statement_timeout(None, databases=["pg"])
    assert not [m for m in found if "'pg'" in m.msg]


def test_an_engine_that_cannot_be_loaded_is_left_to_django(postgres_alias):
    postgres_alias({"ENGINE": "no.such.backend", "NAME": "x"})
    assert not [m for m in check_statement_timeout(None) if "'pg'" in m.msg]
