from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit import health
from django_prodkit.health.checks import check_health
from django_prodkit.health.registry import registry
from tests.health.helpers import ONLY_CUSTOM


@pytest.fixture(autouse=True)
def _only_custom(settings):
    settings.PRODKIT = {"HEALTH": ONLY_CUSTOM}


def names():
    return [check.name for check in registry.checks()]


def test_register_as_a_decorator_keeps_the_function(register):
    @health.register("decorated", critical=False, timeout=0.5)
    def decorated():
        return None

    try:
        [check] = registry.checks()
        assert (check.name, check.critical, check.timeout) == ("decorated", False, 0.5)
        assert decorated() is None
    finally:
        health.unregister("decorated")


def test_register_as_a_call_defaults_to_critical(register):
    register("called", lambda: None)
    [check] = registry.checks()
    assert check.critical is True
    assert check.timeout is None


def test_registering_a_name_again_replaces_the_check(register):
    register("twice", lambda: None)
    register("twice", lambda: None, critical=False)
    [check] = registry.checks()
    assert check.critical is False


def test_unregister_of_an_unknown_name_is_silent():
    health.unregister("never-registered")
    assert names() == []


def test_register_refuses_a_non_positive_timeout():
    with pytest.raises(ValueError, match="must be > 0"):
        health.register("bad", lambda: None, timeout=0)


def test_dotted_paths_add_functions_and_check_instances(settings):
    settings.PRODKIT = {
        "HEALTH": {
            **ONLY_CUSTOM,
            "CHECKS": [
                "tests.health.helpers.queue_depth",
                "tests.health.helpers.always",
            ],
        }
    }
    checks = {check.name: check for check in registry.checks()}
    assert set(checks) == {"queue-depth", "always-ok"}
    assert checks["queue-depth"].critical is True
    assert checks["always-ok"].critical is False
    results = {result.name: result.status for result in health.run_checks()}
    assert results == {"queue-depth": "warn", "always-ok": "ok"}


def test_builtins_follow_the_configured_aliases(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    settings.PRODKIT = {
        "HEALTH": {
            **ONLY_CUSTOM,
            "DATABASE": {"ENABLED": True},
            "CACHE": {"ENABLED": True},
            "DISK": {"ENABLED": True, "PATHS": ["/", "/tmp"]},
        }
    }
    assert names() == [
        "database:default",
        "cache:default",
        "cache:sessions",
        "disk:/",
        "disk:/tmp",
    ]
    settings.PRODKIT = {
        "HEALTH": {**ONLY_CUSTOM, "CACHE": {"ENABLED": True, "ALIASES": ["sessions"]}}
    }
    assert names() == ["cache:sessions"]


def test_default_builtins(settings):
    settings.PRODKIT = {}
    expected = ["database:default", "cache:default", "migrations:default", "disk:/"]
    expected.append("memory")
    try:  # The broker check needs Celery's kombu.
        import kombu  # noqa: F401
    except ImportError:
        pass
    else:
        expected.append("broker")
    assert names() == expected


def test_registered_check_can_replace_a_builtin(settings, register):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "MEMORY": {"ENABLED": True}}}
    register("memory", lambda: None, critical=False)
    [check] = registry.checks()
    assert check.critical is False
    assert type(check).__name__ == "FunctionCheck"


# System checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("tests.health.helpers.missing", "ImportError"),
        ("nowhere.at.all", "ModuleNotFoundError"),
        ("tests.health.helpers.not_a_check", "TypeError"),
    ],
)
def test_unloadable_dotted_path_is_e020(settings, path, error):
    settings.PRODKIT = {"HEALTH": {"CHECKS": [path]}}
    [message] = check_health(None)
    assert message.id == "prodkit.E020"
    assert path in message.msg
    assert error in message.msg


# Django 6.1 runs the model checks against the database (JSONField support).
@pytest.mark.django_db
def test_e020_is_registered(settings):
    settings.PRODKIT = {"HEALTH": {"CHECKS": ["nowhere.at.all"]}}
    with pytest.raises(SystemCheckError, match=r"prodkit\.E020"):
        call_command("check")


def test_short_token_is_w021_and_never_shown(settings):
    settings.PRODKIT = {"HEALTH": {"TOKEN": "short-secret"}}
    [message] = check_health(None)
    assert message.id == "prodkit.W021"
    assert "short-secret" not in message.msg + (message.hint or "")


def test_long_token_and_valid_paths_pass(settings):
    settings.PRODKIT = {
        "HEALTH": {
            "TOKEN": "x" * 32,
            "CHECKS": ["tests.health.helpers.queue_depth"],
        }
    }
    assert check_health(None) == []


def test_health_checks_leave_invalid_settings_to_e001_and_e002(settings):
    settings.PRODKIT = {"HEALTH": {"CHECKS": "not-a-list", "TOKEN": "x"}}
    assert check_health(None) == []


def test_unloadable_dotted_path_is_reported_as_a_failing_check(client, settings):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "CHECKS": ["nowhere.at.all"]}}
    [result] = health.run_checks()
    assert (result.name, result.status, result.critical) == (
        "nowhere.at.all",
        "fail",
        False,
    )
    assert result.message.startswith("cannot load nowhere.at.all: ModuleNotFoundError")
    assert client.get("/health/").status_code == 200


@pytest.mark.parametrize(
    ("raw", "section"),
    [
        ({"DISK": {"WARN_PERCENT": 96, "FAIL_PERCENT": 95}}, "'DISK'"),
        ({"MEMORY": {"WARN_MB": 600, "FAIL_MB": 500}}, "'MEMORY'"),
    ],
)
def test_warning_threshold_above_failure_threshold_is_e022(settings, raw, section):
    settings.PRODKIT = {"HEALTH": raw}
    [message] = check_health(None)
    assert message.id == "prodkit.E022"
    assert f"PRODKIT['HEALTH'][{section}]" in message.msg


def test_thresholds_in_order_pass(settings):
    settings.PRODKIT = {
        "HEALTH": {
            "DISK": {"WARN_PERCENT": 80, "FAIL_PERCENT": 80},
            "MEMORY": {"WARN_MB": 500},
        }
    }
    assert check_health(None) == []
