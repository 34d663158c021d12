"""Incidents over HTTP: the dpo's workflow, scopes, tenants, the report in each format."""

from __future__ import annotations

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


def key(client: TestClient, admin: dict[str, str], tenant: str, *scopes: str) -> dict[str, str]:
    response = client.post(
        "/v1/keys", json={"tenant": tenant, "scopes": list(scopes)}, headers=admin
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_the_dpo_works_an_incident_over_http(
    client: TestClient, mail_runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    admin = {"Authorization": f"Bearer {mail_runtime.notes[0]}"}
    dpo = key(client, admin, "default", "dpo")
    client.post(
        "/v1/subjects",
        json={"email": "ada@example.com", "fields": {"user.account.username": "ada"}},
        headers=admin,
    )
    created = client.post(
        "/v1/incidents",
        json={
            "summary": "Credential stuffing against the login",
            "categories": ["user.account.username", "user.contact.email"],
            "aware_at": "2026-03-06T09:30:00Z",
            "kinds": ["confidentiality"],
            "advice": ["Change your password"],
        },
        headers=dpo,
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    iid = incident["id"]
    assert incident["clocks"][0]["due"] == "2026-03-09T09:30:00Z"
    assert incident["created_by"].startswith("key:")

    listed = client.get("/v1/incidents", headers=dpo).json()
    assert [i["id"] for i in listed] == [iid]
    changed = client.patch(
        f"/v1/incidents/{iid}", json={"measures": ["Rate limit on the login"]}, headers=dpo
    )
    assert changed.json()["measures"] == ["Rate limit on the login"]
    noted = client.post(f"/v1/incidents/{iid}/notes", json={"text": "Logs kept"}, headers=dpo)
    assert noted.status_code == 200
    affected = client.get(f"/v1/incidents/{iid}/affected?ids=true", headers=dpo).json()
    assert affected["count"] == 1
    assert affected["subjects"][0]["categories"] == ["user.account.username", "user.contact.email"]

    early = client.post(f"/v1/incidents/{iid}/notify", headers=dpo)
    assert early.status_code == 409
    assessed = client.post(
        f"/v1/incidents/{iid}/assessment",
        json={"likelihood": "likely", "severity": "high", "reason": "Accounts taken over"},
        headers=dpo,
    )
    assert assessed.json()["assessment"]["risk"] == "high"
    told = client.post(f"/v1/incidents/{iid}/notify", headers=dpo).json()
    assert told["queued"] == 1
    assert smtp_sink.messages  # delivered at once through the real SMTP server
    body = smtp_sink.messages[0].get_content()
    assert "Change your password" in body
    assert "Datenpanne" in str(smtp_sink.messages[0]["Subject"])  # the default language: de

    reported = client.post(
        f"/v1/incidents/{iid}/authority-reports",
        json={"at": "2026-03-08T12:00:00Z", "reference": "LDA-7"},
        headers=dpo,
    )
    assert reported.status_code == 200, reported.text
    markdown = client.get(f"/v1/incidents/{iid}/report?lang=en", headers=dpo)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "Change your password" in markdown.text
    html = client.get(f"/v1/incidents/{iid}/report?format=html&lang=cs", headers=dpo)
    assert html.headers["content-type"].startswith("text/html")
    assert "Ohlášení porušení zabezpečení osobních údajů" in html.text
    data = client.get(f"/v1/incidents/{iid}/report?format=json&lang=zh", headers=dpo).json()
    assert data["language"] == "zh"
    assert data["phase_key"] == "follow_up"

    refused = client.post(f"/v1/incidents/{iid}/close", headers=dpo)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["problems"]
    public = client.post(
        f"/v1/incidents/{iid}/public-notice", json={"where": "status page"}, headers=dpo
    )
    assert public.status_code == 200
    late = client.post(
        f"/v1/incidents/{iid}/delays",
        json={"clock": "gdpr.subjects", "reason": "Waited for the forensic report"},
        headers=dpo,
    )
    assert late.status_code == 200
    closed = client.post(f"/v1/incidents/{iid}/close", headers=dpo)
    assert closed.status_code == 200, closed.text
    shown = client.get(f"/v1/incidents/{iid}", headers=dpo).json()
    assert shown["state"] == "closed"
    assert client.get("/v1/incidents", headers=dpo).json() == []
    assert len(client.get("/v1/incidents?all=true", headers=dpo).json()) == 1


def test_scopes_and_tenants(client: TestClient, mail_runtime: Runtime) -> None:
    admin = {"Authorization": f"Bearer {mail_runtime.notes[0]}"}
    app = key(client, admin, "default", "app")
    denied = client.post("/v1/incidents", json={"summary": "x"}, headers=app)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/incidents", headers=app).status_code == 403
    client.post("/v1/tenants", json={"id": "acme"}, headers=admin)
    acme = key(client, admin, "acme", "dpo")
    mine = client.post("/v1/incidents", json={"summary": "Acme's own"}, headers=admin).json()
    assert client.get(f"/v1/incidents/{mine['id']}", headers=acme).status_code == 404
    across = client.post(
        "/v1/incidents", json={"summary": "both", "tenants": ["default"]}, headers=acme
    )
    assert across.status_code == 403
    invalid = client.post(
        "/v1/incidents",
        json={"summary": "x", "aware_at": "last week", "unknown": 1},
        headers=admin,
    )
    assert invalid.status_code == 422
    bad_time = client.post(
        "/v1/incidents", json={"summary": "x", "aware_at": "last week"}, headers=admin
    )
    assert bad_time.status_code == 422
    assert "ISO 8601" in bad_time.json()["error"]["message"]
