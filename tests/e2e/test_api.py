"""The REST API as an application sees it: keys, scopes, tenants, the error envelope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tutela.bootstrap import Runtime
from tutela.entrypoints.api import create_app


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin(runtime: Runtime) -> dict[str, str]:
    return {"Authorization": f"Bearer {runtime.notes[0]}"}


def issue(client: TestClient, admin: dict[str, str], tenant: str, *scopes: str) -> dict[str, str]:
    response = client.post(
        "/v1/keys", json={"tenant": tenant, "scopes": list(scopes)}, headers=admin
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def assert_envelope(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in str(body)


def test_register_lookup_read_correct_erase(client: TestClient, admin: dict[str, str]) -> None:
    app = issue(client, admin, "default", "app")
    created = client.post(
        "/v1/subjects",
        json={"email": "Ada@Example.com", "fields": {"user.account.username": "ada"}},
        headers=app,
    )
    assert created.status_code == 201
    sid = created.json()["id"]
    found = client.post("/v1/subjects/lookup", json={"email": "ada@example.com"}, headers=app)
    assert found.json()["id"] == sid
    assert found.json()["fields"]["user.contact.email"] == "ada@example.com"
    changed = client.patch(
        f"/v1/subjects/{sid}", json={"fields": {"user.account.username": "lovelace"}}, headers=app
    )
    assert changed.json()["fields"]["user.account.username"] == "lovelace"
    assert client.get(f"/v1/subjects/{sid}", headers=app).json()["status"] == "active"
    # erasing needs the dpo scope
    denied = client.delete(f"/v1/subjects/{sid}", headers=app)
    assert denied.status_code == 403
    assert_envelope(denied.json(), "forbidden")
    erased = client.delete(f"/v1/subjects/{sid}", headers=admin)
    assert erased.json()["status"] == "erased"
    gone = client.patch(
        f"/v1/subjects/{sid}", json={"fields": {"user.account.username": "x"}}, headers=app
    )
    assert gone.status_code == 410
    assert_envelope(gone.json(), "subject_erased")


def test_missing_and_bad_keys_get_401(client: TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer tut_000000000000_" + "x" * 43},
    ):
        response = client.get("/v1/subjects", headers=headers)
        assert response.status_code == 401
        assert_envelope(response.json(), "unauthenticated")


def test_revoked_keys_stop_working(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/v1/keys", json={"scopes": ["dpo"]}, headers=admin)
    key_id, token = response.json()["id"], response.json()["token"]
    assert client.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 200
    import tutela.entrypoints.api_auth as api

    api.AUTH_CACHE_SECONDS = 0.0
    try:
        again = client.get("/v1/subjects", headers={"Authorization": f"Bearer {token}"})
    finally:
        api.AUTH_CACHE_SECONDS = 2.0
    assert again.status_code == 401


def test_keys_are_never_listed_with_secrets(client: TestClient, admin: dict[str, str]) -> None:
    token = client.post("/v1/keys", json={"scopes": ["app"]}, headers=admin).json()["token"]
    listing = client.get("/v1/keys", headers=admin).text
    assert token.split("_", 2)[2] not in listing  # the secret (it may contain "_")
    assert "secret" not in listing


def test_tenants_are_isolated_over_http(client: TestClient, admin: dict[str, str]) -> None:
    assert (
        client.post("/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=admin).status_code
        == 201
    )
    acme = issue(client, admin, "acme", "admin")
    mine = issue(client, admin, "default", "dpo")
    sid = client.post("/v1/subjects", json={"email": "a@example.com"}, headers=mine).json()["id"]
    assert client.get(f"/v1/subjects/{sid}", headers=acme).status_code == 404
    lookup = client.post("/v1/subjects/lookup", json={"email": "a@example.com"}, headers=acme)
    assert lookup.status_code == 404
    assert client.get("/v1/subjects", headers=acme).json()["items"] == []
    # a tenant admin cannot mint keys for another tenant, nor platform keys
    other = client.post("/v1/keys", json={"tenant": "default", "scopes": ["app"]}, headers=acme)
    assert other.status_code == 403
    platform = client.post("/v1/keys", json={"scopes": ["platform"]}, headers=acme)
    assert platform.status_code == 403


def test_bad_input_is_explained_and_echoes_no_values(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(
        "/v1/subjects",
        json={"email": "zq-secret-not-an-email", "fields": {"user.contact.emial": "x"}},
        headers=admin,
    )
    assert response.status_code == 422
    body = response.json()
    assert_envelope(body, "invalid_input")
    assert "did you mean user.contact.email" in body["error"]["message"]
    assert "zq-secret" not in response.text
    malformed = client.post("/v1/subjects", json={"email": 42, "extra": "zq-secret"}, headers=admin)
    assert malformed.status_code == 422
    assert_envelope(malformed.json(), "invalid_input")
    assert "zq-secret" not in malformed.text


def test_conflicts_and_unknown_ids(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/v1/subjects", json={"email": "c@example.com"}, headers=admin)
    again = client.post("/v1/subjects", json={"email": "C@example.com"}, headers=admin)
    assert again.status_code == 409
    assert_envelope(again.json(), "conflict")
    missing = client.get("/v1/subjects/00000000-0000-0000-0000-000000000000", headers=admin)
    assert missing.status_code == 404
    assert_envelope(missing.json(), "not_found")
    route = client.get("/v1/nowhere", headers=admin)
    assert route.status_code == 404
    assert_envelope(route.json(), "not_found")


def test_password_verification_and_import(client: TestClient, admin: dict[str, str]) -> None:
    sid = client.post(
        "/v1/subjects",
        json={"email": "p@example.com", "fields": {"user.authorization.password": "hunter22"}},
        headers=admin,
    ).json()["id"]
    ok = client.post(
        f"/v1/subjects/{sid}/verify",
        json={"category": "user.authorization.password", "value": "hunter22"},
        headers=admin,
    )
    assert ok.json() == {"match": True}
    rows = [{"user.contact.email": f"i{i}@example.com"} for i in range(25)]
    imported = client.post("/v1/subjects/import", json={"rows": rows}, headers=admin)
    assert imported.status_code == 201
    assert imported.json()["imported"] == 25


def test_audit_over_http(client: TestClient, admin: dict[str, str]) -> None:
    sid = client.post("/v1/subjects", json={"email": "au@example.com"}, headers=admin).json()["id"]
    client.get(f"/v1/subjects/{sid}", headers=admin)
    entries = client.get("/v1/audit", params={"subject": sid}, headers=admin).json()
    assert [e["action"] for e in entries] == ["subject.create", "subject.read"]
    assert client.post("/v1/audit/verify", headers=admin).json()["ok"] is True


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/subjects" in paths
    assert "/v1/subjects/lookup" in paths
