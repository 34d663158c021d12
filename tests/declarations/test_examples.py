from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutela.declarations import Declarations, check_file, load_declarations

from .conftest import EXAMPLES

NAMES = ["desktop-vendor.yml", "mobile-app.yml", "saas-helpdesk.yml"]


@pytest.fixture(params=NAMES)
def example(request: pytest.FixtureRequest) -> Path:
    name: str = request.param
    return EXAMPLES / name


def test_example_has_no_problems(example: Path) -> None:
    assert check_file(example) == []


def test_example_starts_with_a_header_naming_its_policy(example: Path) -> None:
    head = example.read_text(encoding="utf-8").splitlines()[:12]
    assert all(line.startswith("#") for line in head[:3])
    assert any("seed policy" in line for line in head)


def test_example_can_find_subjects_and_check_ages(example: Path) -> None:
    declarations = load_declarations(example)
    identities = {c.key for c in declarations.identity_categories}
    assert identities & {"user.contact.email", "user.contact.phone_number"}
    assert declarations.minimum_age is not None
    assert "user.demographic.date_of_birth" in declarations.category_keys


def test_example_survives_a_json_round_trip(example: Path) -> None:
    declarations = load_declarations(example)
    dumped = json.loads(json.dumps(declarations.model_dump(mode="json")))
    again = Declarations.model_validate(dumped)
    assert again == declarations
    assert again.category_keys == declarations.category_keys


def test_desktop_vendor() -> None:
    d = load_declarations(EXAMPLES / "desktop-vendor.yml")
    assert d.jurisdictions == ("gdpr",)
    assert d.languages == ("de", "en")
    assert d.default_language == "de"
    assert d.default_phone_region == "DE"
    assert d.minimum_age == 18
    assert not d.is_multi_tenant
    password = d.category("user.authorization.password")
    assert password is not None
    assert password.storage == "hash"
    assert password.sensitive
    email = d.category("user.contact.email")
    assert email is not None
    assert email.sensitive
    assert email.identity
    assert d.category("user.contact.emial") is None
    assert {c.name for c in d.cookies} >= {"session", "auth_token"}
    assert d.recipients == ()
    assert [p.key for p in d.consent_purposes] == ["user_counting"]


def test_mobile_app_keeps_analytics_apart_from_identity() -> None:
    d = load_declarations(EXAMPLES / "mobile-app.yml")
    assert d.jurisdictions == ("pipl",)
    assert d.storage.countries == ("CN",)
    assert d.default_phone_region == "CN"
    assert d.minimum_age == 18
    analytics = d.purpose("product_analytics")
    assert analytics is not None
    listed = [d.category(key) for key in analytics.categories]
    assert all(c is not None and c.pseudonymous and not c.identity for c in listed)
    service = d.purpose("service")
    assert service is not None
    assert service.description is not None
    assert "legal hold" in service.description
    assert "surveys" in {p.key for p in d.consent_purposes}


def test_saas_helpdesk_is_multi_tenant_with_sdks() -> None:
    d = load_declarations(EXAMPLES / "saas-helpdesk.yml")
    assert d.is_multi_tenant
    assert d.languages == ("sq", "zh", "en")
    assert d.default_phone_region == "AL"
    assert d.minimum_age == 14
    assert len(d.tenants) >= 2
    tenant_keys = {c.key for c in d.tenant_categories}
    assert {"helpdesk.chat_record", "helpdesk.file", "helpdesk.call_recording"} <= tenant_keys
    conversations = d.purpose("conversations")
    assert conversations is not None
    assert conversations.retention is not None
    assert conversations.retention.tenant_configurable is not None
    separate = {c.key for c in d.categories if c.separate_consent}
    assert {"helpdesk.camera", "helpdesk.microphone", "user.name", "helpdesk.id_photo"} <= separate
    sdks = {r.name: r for r in d.recipients if r.role == "sdk"}
    assert set(sdks) >= {"Xiaomi Push", "Huawei Push", "Bugly"}
    assert all(
        r.policy_url and r.company and r.scenario and r.collection_method for r in sdks.values()
    )
    assert sdks["Bugly"].purposes == ("crash_reports",)
