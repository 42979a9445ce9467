from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from tests.locking.models import Note

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.locking.urls")]


def _put(client: Client, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.put(
        url, json.dumps(body), content_type="application/json", headers=headers
    )


def test_get_exposes_the_version_as_a_strong_etag(client: Client) -> None:
    note = Note.objects.create(text="a")
    response = client.get(f"/notes/{note.pk}/")
    assert response["ETag"] == '"1"'
    assert response.json()["version"] == 1


def test_a_stale_put_answers_409_with_the_current_version(client: Client) -> None:
    note = Note.objects.create(text="a")
    assert (
        _put(client, f"/notes/{note.pk}/", {"text": "b", "version": 1}).json()[
            "version"
        ]
        == 2
    )
    response = _put(client, f"/notes/{note.pk}/", {"text": "c", "version": 1})
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert response["ETag"] == '"2"'
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert {k: body[k] for k in ("error", "model", "pk", "current_version")} == {
        "error": "conflict",
        "model": "locking_tests.note",
        "pk": note.pk,
        "current_version": 2,
    }
    assert Note.objects.get(pk=note.pk).text == "b"


def test_the_middleware_answers_async_requests_too() -> None:
    note = Note.objects.create(text="a")
    Note.objects.filter(pk=note.pk).update(text="b")
    response = async_to_sync(AsyncClient().put)(
        f"/notes/{note.pk}/",
        json.dumps({"text": "c", "version": 1}),
        content_type="application/json",
    )
    assert response.status_code == 409
    assert json.loads(response.content)["current_version"] == 2


def test_if_match_with_the_current_etag_saves(client: Client) -> None:
    note = Note.objects.create(text="a")
    response = _put(client, f"/notes/{note.pk}/", {"text": "b"}, If_Match='"1"')
    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    star = _put(client, f"/notes/{note.pk}/", {"text": "c"}, If_Match="*")
    assert star.status_code == 200
    listed = _put(client, f"/notes/{note.pk}/", {"text": "d"}, If_Match='"9", "3"')
    assert listed.status_code == 200


@pytest.mark.parametrize("value", ['"1"', 'W/"2"', "garbage"])
def test_if_match_naming_another_version_answers_412(
    client: Client, value: str
) -> None:
    note = Note.objects.create(text="a")
    Note.objects.filter(pk=note.pk).update(text="b")  # Now at version 2.
    response = _put(client, f"/notes/{note.pk}/", {"text": "c"}, If_Match=value)
    assert response.status_code == 412
    assert response["ETag"] == '"2"'
    assert response.json()["error"] == "precondition_failed"
    assert Note.objects.get(pk=note.pk).text == "b"


@pytest.mark.usefixtures("someone_saves_first")
def test_a_write_racing_past_if_match_is_also_412(client: Client) -> None:
    note = Note.objects.create(text="a")
    response = _put(client, f"/notes/{note.pk}/", {"text": "mine"}, If_Match='"1"')
    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    assert Note.objects.get(pk=note.pk).text == "theirs"


def test_a_view_that_requires_if_match_answers_428_without_it(client: Client) -> None:
    note = Note.objects.create(text="a")
    response = _put(client, f"/strict/{note.pk}/", {"text": "b"})
    assert response.status_code == 428
    assert response.json()["error"] == "precondition_required"
    assert Note.objects.get(pk=note.pk).text == "a"
    ok = _put(client, f"/strict/{note.pk}/", {"text": "b"}, If_Match='"1"')
    assert ok.status_code == 200


def test_the_drf_handler_answers_409(client: Client) -> None:
    note = Note.objects.create(text="a")
    Note.objects.filter(pk=note.pk).update(text="b")
    response = _put(client, f"/drf/{note.pk}/", {"text": "c", "version": 1})
    assert response.status_code == 409
    assert response["ETag"] == '"2"'
    assert response.json()["error"] == "conflict"
    fresh = _put(client, f"/drf/{note.pk}/", {"text": "c", "version": 2})
    assert fresh.status_code == 200
    missing = client.put("/drf/999999/", "{}", content_type="application/json")
    assert missing.status_code == 404  # DRF's own handler still answers the rest.
