from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models.signals import pre_save

from tests.locking.models import Note


@pytest.fixture
def someone_saves_first() -> Iterator[None]:
    """Someone else updates a note in the instant before a save of text "mine" writes:
    the race that a check made earlier in the request cannot see."""

    def update(sender: Any, instance: Note, **kwargs: Any) -> None:
        if instance.text == "mine":
            Note.objects.filter(pk=instance.pk).update(text="theirs")

    pre_save.connect(update, sender=Note)
    try:
        yield
    finally:
        pre_save.disconnect(update, sender=Note)
