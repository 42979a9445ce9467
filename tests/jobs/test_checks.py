"""System checks of background jobs: prodkit.E130."""

from __future__ import annotations

from django_prodkit.jobs.checks import check_jobs


def test_the_defaults_pass():
    assert check_jobs(None) == []


def test_a_database_that_is_not_configured(settings):
    settings.PRODKIT = {"JOBS": {"DATABASE": "jobs"}}
    (message,) = check_jobs(None)
    assert message.id == "prodkit.E130"
    assert message.msg == (
        "PRODKIT['JOBS']['DATABASE'] is 'jobs', which is not in DATABASES."
    )
    assert message.hint == "Use one of: default."


def test_a_configured_database_or_the_capability_off_passes(settings):
    settings.PRODKIT = {"JOBS": {"DATABASE": "default"}}
    assert check_jobs(None) == []
    settings.PRODKIT = {"JOBS": {"DATABASE": "jobs", "ENABLED": False}}
    assert check_jobs(None) == []
