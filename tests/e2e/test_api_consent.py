"""Consent over HTTP as an application sees it: record, check, withdraw, GPC, receipts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tutela.adapters.signing import verify_jws
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.entrypoints.api import create_app
from tutela.services.decisions import purpose_rules
from tutela.settings import Settings

MISSING_ID = "00000000-0000-0000-0000-000000000000"

SHOP = """\
tutela: 1
organization:
  name: Example Shop Ltd
  contact: privacy@example.com
  country: DE
jurisdictions: [gdpr]
languages: [en]
storage:
  region: EU
  countries: [DE]
categories:
  - key: user.contact.email
    identity: true
    description: Email address.
purposes:
  - key: account
    use: essential.service
    legal_basis: contract
    categories: [user.contact.email]
    retention: {keep: P3Y, after: account_closed}
  - key: newsletter
    use: marketing.communications.email
    legal_basis: consent
    categories: [user.contact.email]
  - key: product_feedback
    use: functional.service.improve
    legal_basis: consent
    categories: [user.contact.email]
"""


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin(runtime: Runtime) -> dict[str, str]:
    return {"Authorization": f"Bearer {runtime.notes[0]}"}


def assert_envelope(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in str(body)


def new_subject(client: TestClient, headers: dict[str, str], email: str) -> str:
    response = client.post("/v1/subjects", json={"email": email}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def record(
    client: TestClient,
    headers: dict[str, str],
    subject_id: str,
    action: str,
    *purposes: str,
) -> list[dict[str, object]]:
    response = client.post(
        f"/v1/subjects/{subject_id}/consent",
        json={"action": action, "purposes": list(purposes)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    events: list[dict[str, object]] = response.json()["events"]
    return events


def check(client: TestClient, headers: dict[str, str], subject_id: str, purpose: str) -> object:
    response = client.get(
        "/v1/consent/check", params={"subject": subject_id, "purpose": purpose}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_record_and_check(client: TestClient, admin: dict[str, str]) -> None:
    sid = new_subject(client, admin, "ada.quill@example.com")
    assert check(client, admin, sid, "user_counting") == {"allowed": False, "reason": "no_consent"}
    events = record(client, admin, sid, "grant", "user_counting")
    assert [(e["purpose"], e["action"], e["by"]) for e in events] == [
        ("user_counting", "grant", "subject")
    ]
    assert check(client, admin, sid, "user_counting") == {"allowed": True, "reason": "consent"}
    assert check(client, admin, sid, "account") == {"allowed": True, "reason": "contract"}

    shown = client.get(f"/v1/subjects/{sid}/consent", headers=admin).json()
    states = {p["purpose"]: (p["state"], p["reason"]) for p in shown["purposes"]}
    assert states["user_counting"] == ("granted", "consent")
    assert states["account"] == (None, "contract")
    assert [e["id"] for e in shown["events"]] == [events[0]["id"]]


def test_recording_refuses_what_cannot_be_consented_to(
    client: TestClient, admin: dict[str, str]
) -> None:
    sid = new_subject(client, admin, "bo.marsh@example.com")
    url = f"/v1/subjects/{sid}/consent"
    contract = client.post(url, json={"action": "grant", "purposes": ["account"]}, headers=admin)
    assert contract.status_code == 422
    assert_envelope(contract.json(), "invalid_input")
    typo = client.post(url, json={"action": "grant", "purposes": ["user_countng"]}, headers=admin)
    assert "did you mean user_counting" in typo.json()["error"]["message"]
    missing = client.post(
        f"/v1/subjects/{MISSING_ID}/consent",
        json={"action": "grant", "purposes": ["user_counting"]},
        headers=admin,
    )
    assert missing.status_code == 404
    assert_envelope(missing.json(), "not_found")
    assert client.get(f"/v1/subjects/{sid}/consent", headers=admin).json()["events"] == []


def test_batch_answers_in_order(client: TestClient, admin: dict[str, str]) -> None:
    sid = new_subject(client, admin, "kim.marsh@example.com")
    record(client, admin, sid, "grant", "user_counting")
    checks = [
        {"subject": sid, "purpose": "user_counting"},
        {"subject": MISSING_ID, "purpose": "user_counting"},
        {"subject": sid, "purpose": "no_such_purpose"},
        {"subject": sid, "purpose": "orders"},
    ]
    response = client.post("/v1/consent/check", json={"checks": checks}, headers=admin)
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"allowed": True, "reason": "consent"},
            {"allowed": False, "reason": "unknown_subject"},
            {"allowed": False, "reason": "unknown_purpose"},
            {"allowed": True, "reason": "legal_obligation"},
        ]
    }
    assert check(client, admin, MISSING_ID, "account") == {
        "allowed": False,
        "reason": "unknown_subject",
    }
    assert check(client, admin, sid, "no_such_purpose") == {
        "allowed": False,
        "reason": "unknown_purpose",
    }


def test_check_errors_use_the_envelope(client: TestClient, admin: dict[str, str]) -> None:
    sid = new_subject(client, admin, "lou.marsh@example.com")
    one = client.get("/v1/consent/check", params={"subject": sid, "purpose": "user_counting"})
    assert one.status_code == 401
    assert_envelope(one.json(), "unauthenticated")
    many = client.post("/v1/consent/check", json={"checks": []})
    assert many.status_code == 401
    assert_envelope(many.json(), "unauthenticated")

    half = client.get("/v1/consent/check", params={"subject": sid}, headers=admin)
    assert half.status_code == 422
    assert_envelope(half.json(), "invalid_input")
    malformed: list[object] = [
        {"checks": {}},
        {"checks": [{"subject": sid}]},
        {"checks": ["x"]},
        {"subject": sid},
        ["x"],
    ]
    for body in malformed:
        response = client.post("/v1/consent/check", json=body, headers=admin)
        assert response.status_code == 422, body
        assert_envelope(response.json(), "invalid_input")
    garbage = client.post("/v1/consent/check", content=b"not json", headers=admin)
    assert garbage.status_code == 422
    assert_envelope(garbage.json(), "invalid_input")

    too_many = [{"subject": sid, "purpose": "user_counting"}] * 1001
    response = client.post("/v1/consent/check", json={"checks": too_many}, headers=admin)
    assert response.status_code == 422
    assert_envelope(response.json(), "invalid_input")
    assert "1000" in response.json()["error"]["message"]
    at_most = client.post("/v1/consent/check", json={"checks": too_many[:1000]}, headers=admin)
    assert at_most.status_code == 200
    assert len(at_most.json()["results"]) == 1000


def test_a_withdrawal_is_seen_by_the_very_next_check(
    client: TestClient, admin: dict[str, str]
) -> None:
    sid = new_subject(client, admin, "mo.reed@example.com")
    record(client, admin, sid, "grant", "user_counting")
    for _ in range(3):  # warm the decision cache
        assert check(client, admin, sid, "user_counting") == {"allowed": True, "reason": "consent"}
    withdrawn = client.post(
        f"/v1/subjects/{sid}/consent", json={"action": "withdraw"}, headers=admin
    )
    assert withdrawn.status_code == 201
    assert [e["purpose"] for e in withdrawn.json()["events"]] == ["user_counting"]
    assert check(client, admin, sid, "user_counting") == {
        "allowed": False,
        "reason": "consent_withdrawn",
    }
    batch = client.post(
        "/v1/consent/check",
        json={"checks": [{"subject": sid, "purpose": "user_counting"}]},
        headers=admin,
    )
    assert batch.json() == {"results": [{"allowed": False, "reason": "consent_withdrawn"}]}


def test_receipt_verifies_with_the_published_keys(
    client: TestClient, admin: dict[str, str]
) -> None:
    sid = new_subject(client, admin, "nia.reed@example.com")
    record_id = record(client, admin, sid, "grant", "user_counting")[0]["id"]

    plain = client.get(f"/v1/consent/receipts/{record_id}", headers=admin)
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/jose")
    wrapped = client.get(
        f"/v1/consent/receipts/{record_id}",
        headers={**admin, "Accept": "application/json"},
    ).json()
    assert wrapped == {"id": record_id, "receipt": plain.text}

    keys = client.get("/.well-known/tutela-keys")  # needs no API key
    assert keys.status_code == 200
    payload = verify_jws(plain.text, keys.json())
    assert payload["record_id"] == record_id
    assert payload["subject_id"] == sid
    assert payload["event"]["state"] == "given"
    assert payload["purposes"][0]["key"] == "user_counting"
    assert "nia.reed" not in str(payload)

    missing = client.get(f"/v1/consent/receipts/{MISSING_ID}", headers=admin)
    assert missing.status_code == 404
    assert_envelope(missing.json(), "not_found")


def test_desktop_vendor_has_no_purpose_for_gpc(runtime: Runtime) -> None:
    rules = purpose_rules(runtime.declarations)
    assert "user_counting" in rules
    assert not [key for key, rule in rules.items() if rule.sale_or_sharing]


@pytest.fixture
def shop_client(tmp_path: Path, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A runtime with a consent-based marketing purpose, which GPC opts out of."""
    declarations = tmp_path / "shop.yml"
    declarations.write_text(SHOP, encoding="utf-8")
    result = initialize(settings, declarations)
    rt = open_runtime(settings)
    try:
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as test_client:
            yield test_client, {"Authorization": f"Bearer {result.admin_key}"}
    finally:
        rt.close()


def test_global_privacy_control_refuses_marketing(
    shop_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, admin = shop_client
    sid = new_subject(client, admin, "pat.lane@example.com")
    gpc = {**admin, "Sec-GPC": "1"}
    response = client.post(
        f"/v1/subjects/{sid}/consent",
        json={"action": "grant", "purposes": ["product_feedback"]},
        headers=gpc,
    )
    assert response.status_code == 201
    events = [(e["purpose"], e["action"], e["method"]) for e in response.json()["events"]]
    assert events == [
        ("product_feedback", "grant", "api"),
        ("newsletter", "refuse", "browser_signal"),
    ]
    assert check(client, admin, sid, "newsletter") == {
        "allowed": False,
        "reason": "consent_refused",
    }
    assert check(client, admin, sid, "product_feedback") == {"allowed": True, "reason": "consent"}

    # a repeated signal records nothing new
    again = client.post(
        f"/v1/subjects/{sid}/consent",
        json={"action": "grant", "purposes": ["product_feedback"]},
        headers=gpc,
    )
    assert [e["purpose"] for e in again.json()["events"]] == ["product_feedback"]

    # without the header, nothing is refused for the subject
    other = new_subject(client, admin, "sam.lane@example.com")
    plain = record(client, admin, other, "grant", "product_feedback")
    assert [e["purpose"] for e in plain] == ["product_feedback"]
    assert check(client, admin, other, "newsletter") == {"allowed": False, "reason": "no_consent"}


def test_openapi_lists_the_consent_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/subjects/{subject_id}/consent"]) >= {"get", "post"}
    assert set(paths["/v1/consent/check"]) >= {"get", "post"}
    assert "get" in paths["/v1/consent/receipts/{record_id}"]
    assert "get" in paths["/.well-known/tutela-keys"]
