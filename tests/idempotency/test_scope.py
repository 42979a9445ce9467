"""Whose key it is: the user, else the credentials, else the address; and where it applies."""

from __future__ import annotations

import pytest

from tests.idempotency import views
from tests.idempotency.conftest import REPLAYED, assert_error


@pytest.mark.django_db
def test_keys_are_scoped_to_the_user(store_on, mode_clients, django_user_model):
    store_on()
    alice, bob, anonymous = mode_clients(), mode_clients(), mode_clients()
    alice.force_login(django_user_model.objects.create_user("alice"))
    bob.force_login(django_user_model.objects.create_user("bob"))
    first = alice.post("/orders/")
    assert alice.post("/orders/")[REPLAYED] == "true"
    # Same key, same body: a new request for anyone else.
    for other in (bob, anonymous):
        answer = other.post("/orders/")
        assert (answer.status_code, answer.has_header(REPLAYED)) == (201, False)
        assert answer.content != first.content
    # Same key, another body: no 422 either, the key is not theirs.
    assert alice.post("/orders/", b"{}").status_code == 422
    assert bob.post("/orders/", b"{}").status_code == 422  # bob's own first body.
    assert views.RUNS["create"] == 3


def test_anonymous_keys_are_scoped_to_the_address_or_the_credentials(store_on, client):
    store_on()
    client.post("/orders/", headers={"Idempotency-Key": "k"})
    same = client.post("/orders/", headers={"Idempotency-Key": "k"})
    other_ip = client.post(
        "/orders/", headers={"Idempotency-Key": "k"}, REMOTE_ADDR="192.0.2.9"
    )
    token_a = {"Idempotency-Key": "k", "Authorization": "Token a"}
    token_b = {"Idempotency-Key": "k", "Authorization": "Token b"}
    with_a = client.post("/orders/", headers=token_a)
    with_a_elsewhere = client.post("/orders/", headers=token_a, REMOTE_ADDR="192.0.2.9")
    with_b = client.post("/orders/", headers=token_b)
    assert same[REPLAYED] == "true"
    assert not other_ip.has_header(REPLAYED)
    assert not with_a.has_header(REPLAYED)
    assert with_a_elsewhere[REPLAYED] == "true"
    assert not with_b.has_header(REPLAYED)
    assert views.RUNS["create"] == 4


def test_keys_are_scoped_to_method_and_path(store_on, send):
    store_on()
    send.post("/orders/")
    assert not send.post("/orders/other/").has_header(REPLAYED)
    assert not send.request("PUT", "/orders/").has_header(REPLAYED)
    assert send.request("PUT", "/orders/")[REPLAYED] == "true"
    assert views.RUNS["create"] == 3


def test_other_methods_and_paths_ignore_the_key(store_on, send):
    store_on(PATHS=["/orders/"], METHODS=["POST"])
    for method, path in [("POST", "/other/"), ("PUT", "/orders/"), ("GET", "/orders/")]:
        for _attempt in range(2):
            if method == "GET":
                answer = send.get(path, headers={"Idempotency-Key": "k"})
            else:
                answer = send.request(method, path, key="k")
            assert not answer.has_header(REPLAYED)
    assert views.RUNS["create"] == 6
    assert_error(send.post("/orders/", key="bad key"), 400, "idempotency_key_invalid")


def test_a_custom_header_name(store_on, send):
    store_on(HEADER="X-Request-Key")
    send.post("/orders/", key=None, headers={"X-Request-Key": "k"})
    again = send.post("/orders/", key=None, headers={"X-Request-Key": "k"})
    ignored = send.post("/orders/", key="k")  # The standard header is not read.
    assert again[REPLAYED] == "true"
    assert not ignored.has_header(REPLAYED)
