"""Retention of dead letters: by age and by count, in batches."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from django_prodkit import jobs
from django_prodkit.jobs.models import DeadLetter

pytestmark = pytest.mark.django_db


def dead_letter(task_id: str, days_ago: float) -> DeadLetter:
    at = timezone.now() - dt.timedelta(days=days_ago)
    return DeadLetter.objects.create(
        task_name="shop.charge",
        task_id=task_id,
        first_failed_at=at,
        last_failed_at=at,
        args=[1],
        kwargs={},
    )


def remaining() -> list[str]:
    return sorted(DeadLetter.objects.values_list("task_id", flat=True))


def test_dead_letters_older_than_the_retention_go(settings):
    settings.PRODKIT = {"JOBS": {"RETENTION_DAYS": 7}}
    dead_letter("recent", 1)
    dead_letter("last-week", 6.9)
    dead_letter("old", 8)
    retried = dead_letter("old-retried", 30)
    retried.state = DeadLetter.State.RETRIED
    retried.save()

    assert jobs.prune() == 2
    assert remaining() == ["last-week", "recent"]


def test_only_the_newest_entries_are_kept_beyond_the_maximum(settings):
    settings.PRODKIT = {"JOBS": {"MAX_ENTRIES": 3}}
    for number in range(7):
        dead_letter(f"task-{number}", days_ago=number / 10)

    assert jobs.prune() == 4
    assert remaining() == ["task-0", "task-1", "task-2"]


def test_pruning_works_in_batches():
    from django_prodkit.jobs.retention import prune

    for number in range(7):
        dead_letter(f"old-{number}", days_ago=40 + number)
    for number in range(5):
        dead_letter(f"new-{number}", days_ago=number / 10)

    assert prune(days=30, max_entries=2, batch_size=2) == 10
    assert remaining() == ["new-0", "new-1"]


def test_arguments_override_the_settings_and_bad_ones_are_refused():
    dead_letter("a", 3)
    dead_letter("b", 1)

    assert jobs.prune(days=2) == 1
    assert jobs.prune(max_entries=0) == 1
    with pytest.raises(ValueError, match="at least 1"):
        jobs.prune(days=0)


def test_the_celery_task_prunes():
    pytest.importorskip("celery")
    from django_prodkit.tasks import prune_jobs

    dead_letter("old", 400)

    assert prune_jobs.apply().get() == 1
    assert remaining() == []
