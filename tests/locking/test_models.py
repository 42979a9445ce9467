from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import django
import pytest
from asgiref.sync import async_to_sync
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connection,
    connections,
    transaction,
)
from django.db.models import F
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from django_prodkit.exceptions import ConflictError
from django_prodkit.locking import unversioned_updates
from tests.locking.models import Comment, Folder, Note, NoteProxy

pytestmark = pytest.mark.django_db


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def test_a_new_row_starts_at_version_1() -> None:
    note = Note.objects.create(text="a")
    assert note.version == 1
    assert Note.objects.get(pk=note.pk).version == 1


def test_a_save_is_one_conditional_update_that_bumps_the_version() -> None:
    note = Note.objects.create(text="a")
    note.text = "b"
    with CaptureQueriesContext(connection) as queries:
        note.save()
    [sql] = _writes(queries)
    assert sql.startswith("UPDATE")
    where = sql.split("WHERE", 1)[1]
    assert '"version"' in where
    assert '"id"' in where
    assert note.version == 2
    assert Note.objects.values_list("text", "version").get(pk=note.pk) == ("b", 2)


def test_a_stale_save_raises_conflict_and_writes_nothing() -> None:
    note = Note.objects.create(text="a")
    mine, theirs = Note.objects.get(pk=note.pk), Note.objects.get(pk=note.pk)
    theirs.text = "theirs"
    theirs.save()
    mine.text = "mine"
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(ConflictError) as raised,
    ):
        mine.save()
    # The UPDATE that matched nothing, then one read to tell "stale" from "deleted".
    assert len(queries.captured_queries) == 2
    error = raised.value
    assert (error.model, error.pk, error.version, error.current_version) == (
        Note,
        note.pk,
        1,
        2,
    )
    assert not error.deleted
    assert "changed by someone else" in str(error)
    assert mine.version == 1
    assert Note.objects.values_list("text", "version").get(pk=note.pk) == ("theirs", 2)


def test_a_save_of_a_deleted_row_says_it_was_deleted() -> None:
    note = Note.objects.create(text="a")
    Note.objects.filter(pk=note.pk).delete()
    note.text = "b"
    with pytest.raises(ConflictError) as raised:
        note.save()
    assert raised.value.deleted
    assert raised.value.current_version is None
    assert not Note.objects.exists()  # Not re-inserted.


def test_conflict_error_is_what_django_code_already_catches() -> None:
    assert issubclass(ConflictError, DatabaseError)
    if django.VERSION >= (6, 0):
        from django.core.exceptions import ObjectNotUpdated

        assert issubclass(ConflictError, ObjectNotUpdated)


def test_update_fields_keep_the_check_and_bump_the_version() -> None:
    note = Note.objects.create(text="a", views=1)
    stale = Note.objects.get(pk=note.pk)
    Note.objects.filter(pk=note.pk).update(views=5)
    note.refresh_from_db()
    note.text = "b"
    note.views = 99
    with CaptureQueriesContext(connection) as queries:
        note.save(update_fields=["text"])
    [sql] = _writes(queries)
    assert '"views"' not in sql.split("WHERE")[0]
    assert Note.objects.values_list("text", "views", "version").get(pk=note.pk) == (
        "b",
        5,
        3,
    )
    stale.text = "stale"
    with pytest.raises(ConflictError):
        stale.save(update_fields=["text"])


def test_auto_now_fields_and_foreign_keys_are_saved() -> None:
    folder = Folder.objects.create(name="f")
    note = Note.objects.create(text="a")
    before = note.updated_at
    note.folder = folder
    note.save()
    stored = Note.objects.get(pk=note.pk)
    assert stored.folder_id == folder.pk
    assert stored.updated_at > before


def test_values_of_every_kind_are_written_as_a_plain_save_writes_them() -> None:
    folder = Folder.objects.create(name="f")
    note = Note.objects.create(text="a")
    ref = uuid.uuid4()
    note.data = {"tags": ["x", "y"], "n": 1}
    note.price = Decimal("12.50")
    note.ref = ref
    note.folder = folder
    note.save()
    stored = Note.objects.get(pk=note.pk)
    assert (stored.data, stored.price, stored.ref, stored.folder_id) == (
        {"tags": ["x", "y"], "n": 1},
        Decimal("12.50"),
        ref,
        folder.pk,
    )
    note.folder = None
    note.save()
    assert Note.objects.get(pk=note.pk).folder_id is None


def test_an_expression_value_is_saved_through_the_orm_with_the_check() -> None:
    note = Note.objects.create(text="a", views=5)
    stale = Note.objects.get(pk=note.pk)
    note.views = F("views") + 1
    with CaptureQueriesContext(connection) as queries:
        note.save()
    [sql] = _writes(queries)
    assert '"views" + ' in sql
    assert '"version"' in sql.split("WHERE", 1)[1]
    assert Note.objects.values_list("views", "version").get(pk=note.pk) == (6, 2)
    stale.views = F("views") + 1
    with pytest.raises(ConflictError):
        stale.save()
    assert Note.objects.get(pk=note.pk).views == 6


def test_signals_are_sent_once_with_created_false() -> None:
    seen: list[tuple[str, Any]] = []

    def before(sender: Any, instance: Note, update_fields: Any, **kwargs: Any) -> None:
        seen.append(("pre", update_fields))

    def after(sender: Any, instance: Note, created: bool, **kwargs: Any) -> None:
        seen.append(("post", created))

    note = Note.objects.create(text="a")
    pre_save.connect(before, sender=Note)
    post_save.connect(after, sender=Note)
    try:
        note.save()
        note.save(update_fields=["text"])
    finally:
        pre_save.disconnect(before, sender=Note)
        post_save.disconnect(after, sender=Note)
    assert seen == [
        ("pre", None),
        ("post", False),
        ("pre", frozenset({"text", "version"})),
        ("post", False),
    ]


def test_a_stale_delete_raises_and_keeps_the_row() -> None:
    note = Note.objects.create(text="a")
    Comment.objects.create(note=note, text="c")
    stale = Note.objects.get(pk=note.pk)
    note.save()
    with pytest.raises(ConflictError) as raised:
        stale.delete()
    assert raised.value.current_version == 2
    assert Note.objects.filter(pk=note.pk).exists()
    assert Comment.objects.count() == 1
    deleted, by_model = note.delete()
    assert deleted == 2
    assert by_model == {"locking_tests.Note": 1, "locking_tests.Comment": 1}


def test_update_bumps_versions_so_a_stale_instance_conflicts() -> None:
    note = Note.objects.create(text="a")
    Note.objects.create(text="b")
    assert Note.objects.update(views=3) == 2
    assert set(Note.objects.values_list("version", flat=True)) == {2}
    note.text = "over the bulk change"
    with pytest.raises(ConflictError):
        note.save()
    Note.objects.bulk_update([Note(pk=note.pk, text="bulk", version=2)], ["text"])
    assert Note.objects.get(pk=note.pk).version == 3


@pytest.mark.django_db(transaction=True)
def test_unversioned_updates_hold_only_in_their_own_context() -> None:
    note = Note.objects.create(text="a")
    other_thread: list[int] = []
    main = connections[DEFAULT_DB_ALIAS]
    # An in-memory SQLite database lives in its connection: lend it to the thread, as
    # Django's live server does. PostgreSQL gives the thread a connection of its own.
    shared = main.vendor == "sqlite"

    def bump_elsewhere() -> None:
        if shared:
            connections[DEFAULT_DB_ALIAS] = main
        try:
            # A concurrent thread's update keeps bumping while this one is unversioned.
            other_thread.append(Note.objects.filter(pk=note.pk).update(views=1))
        finally:
            if not shared:
                connection.close()

    with unversioned_updates():
        Note.objects.filter(pk=note.pk).update(views=2)
        assert Note.objects.get(pk=note.pk).version == 1
        if shared:
            main.inc_thread_sharing()
        try:
            thread = threading.Thread(target=bump_elsewhere)
            thread.start()
            thread.join()
        finally:
            if shared:
                main.dec_thread_sharing()
    assert other_thread == [1]
    assert Note.objects.get(pk=note.pk).version == 2
    Note.objects.filter(pk=note.pk).update(views=3)
    assert Note.objects.get(pk=note.pk).version == 3
    note.text = "b"
    with pytest.raises(ConflictError):
        note.save()


def test_refresh_from_db_takes_the_new_version_unless_partial() -> None:
    note = Note.objects.create(text="a")
    Note.objects.filter(pk=note.pk).update(text="b")
    note.refresh_from_db(fields=["text"])
    # A partial refresh leaves the version: the other fields may still be stale.
    assert (note.text, note.version) == ("b", 1)
    note.refresh_from_db()
    assert note.version == 2
    note.text = "c"
    note.save()
    assert note.version == 3


def test_a_deferred_version_cannot_be_saved() -> None:
    note = Note.objects.create(text="a")
    deferred = Note.objects.defer("version").get(pk=note.pk)
    with pytest.raises(ValueError, match="version was deferred"):
        deferred.save()
    partial = Note.objects.only("text", "version").get(pk=note.pk)
    partial.text = "b"
    partial.save()  # Saves the loaded fields only, with the check.
    assert Note.objects.values_list("text", "version").get(pk=note.pk) == ("b", 2)


def test_proxy_models_are_checked_too() -> None:
    note = Note.objects.create(text="a")
    proxy = NoteProxy.objects.get(pk=note.pk)
    note.save()
    proxy.text = "b"
    with pytest.raises(ConflictError) as raised:
        proxy.save()
    assert raised.value.model is NoteProxy


def test_asave_is_checked() -> None:
    note = Note.objects.create(text="a")
    stale = Note.objects.get(pk=note.pk)
    async_to_sync(note.asave)()
    with pytest.raises(ConflictError):
        async_to_sync(stale.asave)()


def test_a_conflict_leaves_the_callers_transaction_usable() -> None:
    note = Note.objects.create(text="a")
    stale = Note.objects.get(pk=note.pk)
    note.save()
    with transaction.atomic():
        with pytest.raises(ConflictError):
            stale.save()
        with pytest.raises(ConflictError):
            stale.delete()
        Note.objects.create(text="after the conflict")
    assert Note.objects.filter(text="after the conflict").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_with_one_version_exactly_one_wins() -> None:
    note = Note.objects.create(text="start")
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def write(number: int) -> None:
        try:
            mine = Note.objects.get(pk=note.pk)
            barrier.wait(timeout=10)
            mine.text = f"writer {number}"
            try:
                mine.save()
                result = f"won {number}"
            except ConflictError:
                result = "conflict"
            with lock:
                outcomes.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1, outcomes
    assert outcomes.count("conflict") == writers - 1
    stored = Note.objects.get(pk=note.pk)
    assert stored.version == 2
    assert f"won {stored.text.split()[-1]}" == winners[0]
