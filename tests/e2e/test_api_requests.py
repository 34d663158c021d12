"""Requests over HTTP: intake, code verification, run, download link, readable expiry."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SmtpSink
from tutela.bootstrap import Runtime
from tutela.entrypoints.api import create_app


@pytest.fixture
def client(mail_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=mail_runtime), raise_server_exceptions=False) as test:
        yield test


def test_a_request_over_http(
    client: TestClient, mail_runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    admin = {"Authorization": f"Bearer {mail_runtime.notes[0]}"}
    client.post("/v1/subjects", json={"email": "web@example.com"}, headers=admin)
    created = client.post(
        "/v1/requests", json={"type": "access", "email": "web@example.com"}, headers=admin
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert client.post(f"/v1/requests/{rid}/code", headers=admin).status_code == 200
    code = re.search(r"\b(\d{6})\b", smtp_sink.messages[-1].get_content())
    assert code is not None
    bad = client.post(f"/v1/requests/{rid}/verify", json={"code": "1"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["reason"] == "wrong_code"
    ok = client.post(f"/v1/requests/{rid}/verify", json={"code": code.group(1)}, headers=admin)
    assert ok.json()["state"] == "verified"
    done = client.post(f"/v1/requests/{rid}/run", headers=admin).json()
    assert done["state"] == "completed"
    link = client.get(f"/v1/requests/{rid}/link", headers=admin).json()["link"]
    path = link.removeprefix(mail_runtime.ctx.public_url)
    download = client.get(path)  # the subject's link needs no API key
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    tampered = client.get(path[:-3] + "xyz", headers={"Accept-Language": "en"})
    assert tampered.status_code == 400
    assert "not available" in tampered.text
    assert "Traceback" not in tampered.text
    queue = client.get("/v1/requests", headers=admin).json()
    assert [q["id"] for q in queue] == [rid]
    assert client.get("/v1/requests/nope", headers=admin).json()["error"]["code"] == "not_found"


def test_an_app_key_cannot_decide_requests(client: TestClient, mail_runtime: Runtime) -> None:
    admin = {"Authorization": f"Bearer {mail_runtime.notes[0]}"}
    token = client.post("/v1/keys", json={"scopes": ["app"]}, headers=admin).json()["token"]
    app = {"Authorization": f"Bearer {token}"}
    rid = client.post(
        "/v1/requests", json={"type": "erasure", "email": "z@example.com"}, headers=app
    ).json()["id"]
    denied = client.post(f"/v1/requests/{rid}/reject", json={"reason": "no"}, headers=app)
    assert denied.status_code == 403
    assert (
        client.post(
            f"/v1/requests/{rid}/verify", json={"method": "in_person"}, headers=app
        ).status_code
        == 403
    )
