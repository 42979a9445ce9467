from __future__ import annotations


def test_request_gets_id(client):
    response = client.get("/sync/1/")
    assert response.status_code == 200
    assert response["X-Request-ID"] == response.json()["request_id"]
