"""Consent receipts hold what was agreed to, under which terms, and never a personal value."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tutela.declarations import Declarations, load_declarations
from tutela.domain.errors import InvalidInput
from tutela.domain.receipts import ReceiptEvent, build_receipt, dpv_category

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AT = 1_728_470_400_123_456  # 2024-10-09T10:40:00.123456Z


@pytest.fixture(scope="module")
def desktop() -> Declarations:
    return load_declarations(EXAMPLES / "desktop-vendor.yml")


@pytest.fixture(scope="module")
def helpdesk() -> Declarations:
    return load_declarations(EXAMPLES / "saas-helpdesk.yml")


def event(**changes: Any) -> ReceiptEvent:
    base = ReceiptEvent(
        record_id=str(uuid.UUID(int=7)),
        subject_id="s-4f1c2a",
        tenant_id="default",
        action="grant",
        at=AT,
        policy_version="2024-10-09",
        notice_language="de",
        method="cookie_banner",
        jurisdiction="gdpr",
        by="subject",
        guardian_verified_by=None,
        bundled=False,
    )
    return dataclasses.replace(base, **changes)


def test_a_grant_under_the_desktop_vendor_declarations(desktop: Declarations) -> None:
    receipt = build_receipt(event(), desktop, purposes=["user_counting"])

    assert receipt["schema"] == "tutela-consent-receipt/1"
    assert receipt["@context"]["dpv"] == "https://w3id.org/dpv#"
    assert "dpv-pd" in receipt["@context"]
    assert receipt["record_id"] == str(uuid.UUID(int=7))
    assert receipt["subject_id"] == "s-4f1c2a"
    assert receipt["notice"] == {
        "version": "2024-10-09",
        "language": "de",
        "url": "https://www.example.com/datenschutz",
    }
    [controller] = receipt["controllers"]
    assert controller["name"] == "Beispiel Software GmbH"
    assert controller["country"] == "DE"
    assert controller["dpo"] == {"name": "Data Protection Officer", "email": "dpo@example.com"}
    assert receipt["storage"] == {"region": "EU", "countries": ["DE"]}
    assert receipt["jurisdiction"] == "gdpr"
    assert receipt["event"] == {
        "type": "grant",
        "time": "2024-10-09T10:40:00.123456Z",
        "state": "given",
        "state_dpv": "dpv:ConsentGiven",
    }
    assert receipt["collection"] == {
        "method": "cookie_banner",
        "by": "subject",
        "guardian_verified_by": None,
        "bundled": False,
    }
    assert receipt["withdrawal"]["method"] == "privacy_center"
    assert "withdraw" in receipt["withdrawal"]["text"]

    [purpose] = receipt["purposes"]
    assert purpose["key"] == "user_counting"
    assert purpose["use"] == "analytics.reporting.system"
    assert purpose["legal_basis"] == "consent"
    assert purpose["legal_basis_dpv"] == "dpv:Consent"
    assert purpose["description"].startswith("Count users")
    assert purpose["retention"] == {
        "period": "P13M",
        "after": "collected",
        "then": "anonymize",
        "set_by": "declarations",
    }
    assert purpose["categories"] == [
        {
            "key": "user.device.cookie_id",
            "dpv": "dpv-pd:DeviceBased",
            "sensitive": False,
            "controller": "platform",
        }
    ]
    assert purpose["recipients"] == []


def test_categories_and_legal_bases_map_to_dpv(desktop: Declarations) -> None:
    receipt = build_receipt(event(), desktop, purposes=["account", "orders", "security_logs"])
    by_key = {p["key"]: p for p in receipt["purposes"]}
    assert [p["key"] for p in receipt["purposes"]] == ["account", "orders", "security_logs"]
    assert by_key["account"]["legal_basis_dpv"] == "dpv:Contract"
    assert by_key["orders"]["legal_basis_dpv"] == "dpv:LegalObligation"
    assert by_key["security_logs"]["legal_basis_dpv"] == "dpv:LegitimateInterest"
    terms = {c["key"]: c["dpv"] for p in receipt["purposes"] for c in p["categories"]}
    assert terms == {
        "user.account.username": "dpv-pd:Username",
        "user.contact.email": "dpv-pd:EmailAddress",
        "user.authorization.password": "dpv-pd:Password",
        "user.demographic.date_of_birth": "dpv-pd:BirthDate",
        "user.behavior.purchase_history": "dpv-pd:Purchase",
        "user.device.ip_address": "dpv-pd:IPAddress",
    }
    email = next(c for c in by_key["account"]["categories"] if c["key"] == "user.contact.email")
    assert email["sensitive"] is True
    assert by_key["orders"]["retention"]["period"] == "P10Y"


@pytest.mark.parametrize(
    ("key", "term"),
    [
        ("user.contact.phone_number", "dpv-pd:TelephoneNumber"),
        ("user.name", "dpv-pd:Name"),
        ("user.location.imprecise", "dpv-pd:Location"),
        ("user.biometric.health", "dpv-pd:Biometric"),
        ("user.government_id.national_identification_number", "dpv-pd:OfficialID"),
        ("user.content.private", "user.content.private"),
        ("user.sensor", "user.sensor"),
    ],
)
def test_fideslang_prefixes_map_to_the_closest_dpv_term(key: str, term: str) -> None:
    assert dpv_category(key) == term


def test_a_grant_in_a_tenant_workspace_of_the_helpdesk(helpdesk: Declarations) -> None:
    receipt = build_receipt(
        event(tenant_id="shembull-retail", notice_language="sq", jurisdiction="pipl"),
        helpdesk,
        purposes=["real_name_verification", "conversations", "push_notifications"],
    )
    by_key = {p["key"]: p for p in receipt["purposes"]}

    assert receipt["storage"] == {"region": "CN", "countries": ["CN"]}
    assert receipt["notice"]["url"] == "https://helpdesk.example.com/privacy"
    kinds = [c["kind"] for c in receipt["controllers"]]
    assert kinds == ["organization", "tenant"]
    tenant = receipt["controllers"][1]
    assert tenant["tenant_id"] == "shembull-retail"
    assert tenant["name"] == "Shembull Retail Sh.p.k."
    assert tenant["categories"] == [
        "helpdesk.call_recording",
        "helpdesk.chat_record",
        "helpdesk.file",
    ]

    # real-name verification: separate consent, sensitive, extension keys follow their parent
    verification = by_key["real_name_verification"]
    assert verification["legal_basis_dpv"] == "dpv:Consent"
    terms = {c["key"]: (c["dpv"], c["sensitive"]) for c in verification["categories"]}
    assert terms == {
        "user.name": ("dpv-pd:Name", True),
        "helpdesk.id_photo": ("dpv-pd:OfficialID", True),
    }
    assert verification["retention"]["after"] == "consent_withdrawn"

    # conversations: tenant-controlled, the tenant's own retention applies
    conversations = by_key["conversations"]
    assert {c["controller"] for c in conversations["categories"]} == {"tenant"}
    assert conversations["retention"] == {
        "period": "P180D",
        "after": "collected",
        "then": "delete",
        "set_by": "tenant",
    }

    # push notifications: only the SDKs serving that purpose, with their country
    recipients = by_key["push_notifications"]["recipients"]
    assert [r["name"] for r in recipients] == [
        "Xiaomi Push",
        "Huawei Push",
        "vivo Push",
        "ColorOS Push",
        "RongCloud",
    ]
    assert {r["role"] for r in recipients} == {"sdk"}
    assert {r["country"] for r in recipients} == {"CN"}
    assert "Bugly" not in json.dumps(by_key["push_notifications"])


def test_the_default_tenant_is_not_a_separate_controller(helpdesk: Declarations) -> None:
    receipt = build_receipt(
        event(notice_language="en", jurisdiction="pipl"), helpdesk, purposes=["conversations"]
    )
    assert [c["kind"] for c in receipt["controllers"]] == ["organization"]
    assert receipt["purposes"][0]["retention"]["period"] == "P1Y"


def test_a_guardian_withdrawal_through_the_api(desktop: Declarations) -> None:
    receipt = build_receipt(
        event(
            action="withdraw",
            method="api",
            by="guardian",
            guardian_verified_by="signed_form",
            bundled=True,
        ),
        desktop,
        purposes=["user_counting"],
    )
    assert receipt["event"]["state"] == "withdrawn"
    assert receipt["event"]["state_dpv"] == "dpv:ConsentWithdrawn"
    assert receipt["collection"] == {
        "method": "api",
        "by": "guardian",
        "guardian_verified_by": "signed_form",
        "bundled": True,
    }
    assert receipt["withdrawal"]["method"] == "api"


def test_a_refusal_is_recorded_as_refused(desktop: Declarations) -> None:
    receipt = build_receipt(event(action="refuse"), desktop, purposes=["user_counting"])
    assert receipt["event"]["state_dpv"] == "dpv:ConsentRefused"


def test_a_receipt_is_json_and_holds_no_personal_values(helpdesk: Declarations) -> None:
    receipt = build_receipt(
        event(notice_language="en", jurisdiction="pipl"),
        helpdesk,
        purposes=[p.key for p in helpdesk.purposes],
    )
    text = json.dumps(receipt)
    assert json.loads(text) == receipt
    # the only addresses are the organization's and its DPO's, never the subject's
    emails = {c["contact"] for c in receipt["controllers"]} | {receipt["withdrawal"]["contact"]}
    assert emails == {"privacy@example.com"}
    assert "s-4f1c2a" in text
    for value in ("ada@example.com", "+49", "Ada"):
        assert value not in text


def test_an_unknown_purpose_is_refused_with_the_declared_ones(desktop: Declarations) -> None:
    with pytest.raises(InvalidInput, match=r"unknown purpose 'newsletter'.*user_counting") as info:
        build_receipt(event(), desktop, purposes=["user_counting", "newsletter"])
    assert info.value.details["purpose"] == "newsletter"


@pytest.mark.parametrize(
    ("purposes", "message"),
    [([], "non-empty list"), ("account", "non-empty list"), (["account", "account"], "twice")],
)
def test_purposes_must_be_a_list_of_distinct_keys(
    desktop: Declarations, purposes: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_receipt(event(), desktop, purposes=purposes)


def test_an_undeclared_jurisdiction_or_language_is_refused(desktop: Declarations) -> None:
    with pytest.raises(InvalidInput, match="jurisdiction 'pipl'"):
        build_receipt(event(jurisdiction="pipl"), desktop, purposes=["account"])
    with pytest.raises(InvalidInput, match="notice_language 'fr'"):
        build_receipt(event(notice_language="fr"), desktop, purposes=["account"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"record_id": "not-a-uuid"}, "record_id"),
        ({"subject_id": "ada@example.com"}, "subject_id"),
        ({"subject_id": ""}, "subject_id"),
        ({"action": "accept"}, "action"),
        ({"method": "telepathy"}, "method"),
        ({"by": "parent"}, "by"),
        ({"at": -1}, "at"),
        ({"at": 1.5}, "at"),
        ({"by": "guardian"}, "guardian_verified_by"),
        ({"guardian_verified_by": "id_check"}, "guardian_verified_by"),
    ],
)
def test_an_event_with_a_bad_field_is_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        event(**changes)
    assert info.value.details["field"] == field
