from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from tests.locking.models import Note

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.locking.urls")]


@pytest.fixture
def staff(admin_client: Client) -> Client:
    return admin_client


def _url(note: Note) -> str:
    return f"/admin/locking_tests/note/{note.pk}/change/"


def _post(client: Client, note: Note, version: Any, text: str) -> Any:
    data = {"text": text, "views": "0", "_save": "Save"}
    if version is not None:
        data["version"] = str(version)
    return client.post(_url(note), data)


def test_the_change_form_carries_the_version_as_a_hidden_input(staff: Client) -> None:
    note = Note.objects.create(text="a")
    Note.objects.filter(pk=note.pk).update(views=1)  # Now at version 2.
    page = staff.get(_url(note)).content.decode()
    assert '<input type="hidden" name="version" value="2"' in page


def test_a_fresh_admin_save_works(staff: Client) -> None:
    note = Note.objects.create(text="a")
    response = _post(staff, note, 1, "edited")
    assert response.status_code == 302
    assert Note.objects.values_list("text", "version").get(pk=note.pk) == ("edited", 2)


def test_a_stale_admin_save_is_refused_with_a_reload_link(staff: Client) -> None:
    note = Note.objects.create(text="a")
    Note.objects.filter(pk=note.pk).update(text="someone else's")  # Version 2.
    response = _post(staff, note, 1, "mine")
    assert response.status_code == 200  # The form again, with the user's input.
    page = response.content.decode()
    assert "was changed by someone else since you opened it" in page
    assert f'<a href="{_url(note)}">Reload it</a>' in page
    assert 'value="mine"' in page
    assert Note.objects.values_list("text", "version").get(pk=note.pk) == (
        "someone else's",
        2,
    )


def test_a_post_without_the_version_is_refused(staff: Client) -> None:
    note = Note.objects.create(text="a")
    response = _post(staff, note, None, "mine")
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert Note.objects.get(pk=note.pk).text == "a"


@pytest.mark.usefixtures("someone_saves_first")
def test_a_save_racing_past_the_form_check_is_refused_too(staff: Client) -> None:
    note = Note.objects.create(text="a")
    response = _post(staff, note, 1, "mine")
    assert response.status_code == 302
    assert response["Location"] == _url(note)
    [message] = list(get_messages(response.wsgi_request))
    assert "changed by someone else" in str(message)
    # The admin's transaction rolled back the racing update with the failed save.
    assert Note.objects.values_list("text", "version").get(pk=note.pk) == ("a", 1)


def test_adding_through_the_admin_needs_no_version(staff: Client) -> None:
    response = staff.post(
        "/admin/locking_tests/note/add/", {"text": "new", "views": "0"}
    )
    assert response.status_code == 302
    assert Note.objects.get(text="new").version == 1
