from __future__ import annotations

import pytest

from django_prodkit import health
from django_prodkit.health.models import HealthCheckRun
from django_prodkit.health.runner import runner
from tests.health.helpers import ONLY_CUSTOM, failing_check, passing_check

pytest.importorskip("celery")

from django_prodkit.tasks import record_health


@pytest.fixture
def checks(settings):
    settings.PRODKIT = {"HEALTH": ONLY_CUSTOM}
    runner.reset()
    health.register("api", passing_check)
    health.register("payments", failing_check, critical=False)
    yield
    health.unregister("api")
    health.unregister("payments")
    runner.reset()


@pytest.mark.django_db(transaction=True)
def test_record_health_task_stores_one_row_per_check(checks):
    assert record_health.apply().get() == 2

    assert dict(HealthCheckRun.objects.values_list("name", "status")) == {
        "api": "ok",
        "payments": "fail",
    }


@pytest.mark.django_db(transaction=True)
def test_record_health_task_includes_the_database_check(settings):
    settings.PRODKIT = {"HEALTH": {**ONLY_CUSTOM, "DATABASE": {"ENABLED": True}}}
    runner.reset()
    try:
        assert record_health.apply().get() == 1
    finally:
        runner.reset()

    run = HealthCheckRun.objects.get()
    assert (run.name, run.status, run.critical) == ("database:default", "ok", True)


@pytest.mark.django_db
def test_prune_errors_task_removes_old_resolved_groups(settings):
    import datetime

    from django.utils import timezone

    from django_prodkit.errors.models import ErrorGroup
    from django_prodkit.tasks import prune_errors

    settings.PRODKIT = {"ERRORS": {"RETENTION_DAYS": 30}}
    old = timezone.now() - datetime.timedelta(days=31)
    ErrorGroup.objects.create(
        fingerprint="a" * 64, source="log", status="resolved", last_seen=old
    )
    ErrorGroup.objects.create(
        fingerprint="b" * 64, source="log", status="unresolved", last_seen=old
    )

    assert prune_errors.apply().get() == 1
    assert list(ErrorGroup.objects.values_list("status", flat=True)) == ["unresolved"]
