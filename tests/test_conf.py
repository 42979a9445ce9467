from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_prodkit import conf


def test_defaults_when_prodkit_is_absent(settings):
    del settings.PRODKIT
    assert conf.get() == conf.Settings()
    assert conf.get().logs.request_id_header == "X-Request-ID"


def test_user_values_are_merged_over_defaults(settings):
    settings.PRODKIT = {
        "LOGS": {"REQUEST_LOG": False, "REQUEST_LOG_SKIP": ["/health/"]}
    }
    logs = conf.get().logs
    assert logs.request_log is False
    assert logs.request_log_skip == ("/health/",)
    assert logs.enabled is True


def test_settings_are_reread_when_prodkit_changes(settings):
    settings.PRODKIT = {"LOGS": {"REQUEST_ID_HEADER": "X-Trace"}}
    assert conf.get().logs.request_id_header == "X-Trace"
    settings.PRODKIT = {"LOGS": {"REQUEST_ID_HEADER": "X-Other"}}
    assert conf.get().logs.request_id_header == "X-Other"


def test_get_is_cached_between_changes(settings):
    settings.PRODKIT = {}
    assert conf.get() is conf.get()


def test_meta_key_is_derived_from_header(settings):
    settings.PRODKIT = {"LOGS": {"REQUEST_ID_HEADER": "X-Amzn-Trace-Id"}}
    assert conf.get().logs.request_id_meta_key == "HTTP_X_AMZN_TRACE_ID"


def test_invalid_settings_raise_when_checks_were_skipped(settings):
    settings.PRODKIT = {"LOGS": {"ENABLED": "yes"}}
    with pytest.raises(ImproperlyConfigured, match=r"prodkit\.E002"):
        conf.get()


def test_parse_collects_every_problem_and_keeps_valid_values():
    value, problems = conf.parse(
        {
            "LOGS": {"ENABLD": True, "REQUEST_ID_MAX_LENGTH": 2, "REQUEST_LOG": False},
            "NOPE": {},
        }
    )
    assert sorted(str(p.id) for p in problems) == [
        "prodkit.E001",
        "prodkit.E001",
        "prodkit.E002",
    ]
    assert value.logs.request_log is False
    assert value.logs.request_id_max_length == 128


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"LOGS": {"ENABLED": 1}}, "must be a bool, got 1 (int)"),
        ({"LOGS": {"REQUEST_ID_MAX_LENGTH": True}}, "must be an int, got True (bool)"),
        ({"LOGS": {"REQUEST_ID_MAX_LENGTH": "64"}}, "must be an int, got '64' (str)"),
        (
            {"LOGS": {"REQUEST_ID_MAX_LENGTH": 5000}},
            "must be between 8 and 1024, got 5000",
        ),
        ({"LOGS": {"REQUEST_ID_HEADER": "X Request"}}, "must be an HTTP header name"),
        ({"LOGS": {"REQUEST_LOG_SKIP": "/health/"}}, "must be a list of str"),
        (
            {"LOGS": {"REQUEST_LOG_SKIP": ["health/"]}},
            "must be URL path prefixes starting with '/'",
        ),
        ({"LOGS": {"REQUEST_LOG_SKIP": [1]}}, "must be a list of str"),
        ({"LOGS": []}, "PRODKIT['LOGS'] must be a dict"),
    ],
)
def test_wrong_type_or_value_is_e002_with_key_path(raw, fragment):
    _value, [problem] = conf.parse(raw)
    assert problem.id == "prodkit.E002"
    assert fragment in problem.msg
    assert problem.msg.startswith("PRODKIT['LOGS']")


def test_wrong_value_hint_names_the_default():
    _value, [problem] = conf.parse({"LOGS": {"REQUEST_ID_MAX_LENGTH": 0}})
    assert problem.hint == "The default is 128."


def test_prodkit_not_a_dict_is_e002():
    value, [problem] = conf.parse(["LOGS"])
    assert (problem.id, problem.msg) == (
        "prodkit.E002",
        "PRODKIT must be a dict, not list.",
    )
    assert value == conf.Settings()


def test_unknown_section_suggests_closest():
    _value, [problem] = conf.parse({"LOG": {}})
    assert (problem.id, problem.msg, problem.hint) == (
        "prodkit.E001",
        "Unknown setting PRODKIT['LOG'].",
        "Did you mean 'LOGS'?",
    )


def test_lower_case_key_suggests_upper_case():
    _value, [problem] = conf.parse({"LOGS": {"enabled": False}})
    assert problem.hint == "Did you mean 'ENABLED'?"


def test_unknown_key_without_close_match_lists_valid_keys():
    _value, [problem] = conf.parse({"LOGS": {"ZZZ": 1}})
    assert problem.hint is not None
    assert problem.hint.startswith("Valid keys: ENABLED, REQUEST_ID_HEADER")


def test_non_string_key_is_unknown():
    _value, [problem] = conf.parse({1: {}})
    assert problem.id == "prodkit.E001"
    assert problem.msg == "Unknown setting PRODKIT[1]."


def test_derived_field_is_not_a_setting():
    _value, [problem] = conf.parse({"LOGS": {"REQUEST_ID_META_KEY": "HTTP_X"}})
    assert problem.id == "prodkit.E001"


def test_nested_sections_are_merged_over_their_defaults(settings):
    settings.PRODKIT = {"HEALTH": {"DATABASE": {"WARN_MS": 50, "ALIASES": ["replica"]}}}
    database = conf.get().health.database
    assert database.warn_ms == 50.0
    assert database.aliases == ("replica",)
    assert database.critical is True
    assert conf.get().health.cache == conf.CacheCheckSettings()


def test_unknown_nested_key_names_its_full_path():
    _, [problem] = conf.parse({"HEALTH": {"DATABASE": {"WARN_MZ": 5}}})
    assert problem.id == "prodkit.E001"
    assert problem.msg == "Unknown setting PRODKIT['HEALTH']['DATABASE']['WARN_MZ']."
    assert problem.hint == "Did you mean 'WARN_MS'?"


def test_nested_section_that_is_not_a_dict_is_e002():
    value, [problem] = conf.parse({"HEALTH": {"DISK": ["/"]}})
    assert problem.id == "prodkit.E002"
    assert "PRODKIT['HEALTH']['DISK'] must be a dict" in problem.msg
    assert value.health.disk == conf.DiskCheckSettings()


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"TIMEOUT": 0}, "must be greater than 0"),
        ({"CACHE_SECONDS": -1}, "must be 0 or more"),
        ({"DISK": {"WARN_PERCENT": 101}}, "must be a percentage between 1 and 100"),
        ({"MEMORY": {"WARN_MB": 0}}, "must be greater than 0"),
        ({"DATABASE": {"TIMEOUT": "1"}}, "must be a float or None"),
        ({"HISTORY_DAYS": 0}, "must be between 1 and 3650"),
    ],
)
def test_bad_health_values_are_e002(raw, error):
    _, [problem] = conf.parse({"HEALTH": raw})
    assert problem.id == "prodkit.E002"
    assert error in problem.msg


@pytest.mark.parametrize(
    "raw",
    [{"TOKEN": 12345678901234567890}, {"BROKER": {"URL": ["amqp://u:pw@h//"]}}],
)
def test_invalid_secret_values_are_never_echoed(raw):
    _, [problem] = conf.parse({"HEALTH": raw})
    assert problem.id == "prodkit.E002"
    assert "12345678901234567890" not in problem.msg
    assert "pw@" not in problem.msg
    assert "got a value" in problem.msg


def test_secrets_are_left_out_of_the_settings_repr(settings):
    settings.PRODKIT = {
        "HEALTH": {"TOKEN": "s3cret-token", "BROKER": {"URL": "amqp://u:pw@h//"}}
    }
    assert "s3cret-token" not in repr(conf.get())
    assert "pw@" not in repr(conf.get())
