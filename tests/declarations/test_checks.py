"""One semantic check at a time, each starting from a small valid file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tutela.declarations import Problem, check_text, parse_declarations

from .conftest import Check


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_minimal_file_is_valid(minimal: dict[str, Any], check: Check) -> None:
    assert check(minimal) == []
    declarations = parse_declarations(yaml.safe_dump(minimal))
    assert declarations.tenancy.default_tenant == "default"
    assert declarations.default_phone_region == "DE"


def test_unknown_category_gets_a_suggestion_from_fideslang(
    minimal: dict[str, Any], check: Check
) -> None:
    minimal["categories"].append({"key": "user.contact.phone_numbr"})
    minimal["purposes"][0]["categories"].append("user.contact.phone_numbr")
    problem = only(check(minimal))
    assert problem.path == "categories[2].key"
    assert problem.fix == "did you mean user.contact.phone_number?"


def test_duplicate_category(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"].append({"key": "user.contact.email"})
    problem = only(check(minimal))
    assert problem.path == "categories[2]"
    assert "declared twice (first at categories[0])" in problem.message


def test_unused_category(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"].append({"key": "user.name"})
    problem = only(check(minimal))
    assert problem.path == "categories[2].key"
    assert problem.message == "user.name: no purpose uses this category"


def test_hashed_identity(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"][0]["storage"] = "hash"
    messages = [p.message for p in check(minimal)]
    assert any("cannot be hashed" in m for m in messages)


def test_no_identity_category(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"][0]["identity"] = False
    problem = only(check(minimal))
    assert problem.path == "categories"
    assert "identity: true" in (problem.fix or "")


def test_tenant_data_needs_tenancy(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"].append({"key": "user.job_title", "controller": "tenant"})
    minimal["purposes"][0]["categories"].append("user.job_title")
    problem = only(check(minimal))
    assert problem.path == "categories[2].controller"
    assert problem.fix == "set tenancy.multi_tenant: true, or controller: platform"
    minimal["tenancy"] = {"multi_tenant": True}
    assert check(minimal) == []


def test_tenants_need_tenancy(minimal: dict[str, Any], check: Check) -> None:
    minimal["tenants"] = [{"id": "acme", "name": "Acme"}, {"id": "acme", "name": "Acme 2"}]
    paths = {p.path for p in check(minimal)}
    assert paths == {"tenants", "tenants[1]"}


def test_tenant_retention_bounds(minimal: dict[str, Any], check: Check) -> None:
    minimal["tenancy"] = {"multi_tenant": True}
    minimal["categories"].append({"key": "user.content.private", "controller": "tenant"})
    minimal["purposes"].append(
        {
            "key": "chats",
            "use": "essential.service",
            "legal_basis": "contract",
            "categories": ["user.content.private"],
            "retention": {
                "keep": "P1Y",
                "after": "collected",
                "tenant_configurable": {"min": "P7D", "max": "P2Y"},
            },
        }
    )
    minimal["tenants"] = [
        {"id": "acme", "name": "Acme", "retention": {"chats": "P90D"}},
        {"id": "globex", "name": "Globex", "retention": {"chats": "P3Y", "account": "P1Y"}},
    ]
    problems = check(minimal)
    assert {p.path for p in problems} == {
        "tenants[1].retention.chats",
        "tenants[1].retention.account",
    }
    minimal["tenants"].pop()
    minimal["purposes"][1]["retention"]["keep"] = "P5Y"
    problem = only(check(minimal))
    assert problem.path == "purposes[1].retention.keep"
    assert problem.message == "P5Y: outside the tenant bounds P7D..P2Y"


def test_tenant_configurable_without_tenant_data(minimal: dict[str, Any], check: Check) -> None:
    minimal["tenancy"] = {"multi_tenant": True}
    minimal["purposes"][0]["retention"] = {
        "keep": "P1Y",
        "after": "collected",
        "tenant_configurable": {"min": "P2Y", "max": "P1Y"},
    }
    paths = [p.path for p in check(minimal)]
    assert paths == [
        "purposes[0].retention.tenant_configurable",
        "purposes[0].retention.tenant_configurable.min",
    ]


def test_separate_consent_needs_a_consent_purpose(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"][1]["separate_consent"] = True
    problem = only(check(minimal))
    assert problem.path == "categories[1].separate_consent"


def test_pseudonymous_data_stays_apart(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"].append({"key": "user.unique_id.pseudonymous", "pseudonymous": True})
    minimal["purposes"][0]["categories"].append("user.unique_id.pseudonymous")
    problem = only(check(minimal))
    assert problem.path == "purposes[0].categories"
    assert "pseudonymous" in problem.message


def test_recipient_references(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"].append({"key": "user.device.device_id"})
    minimal["purposes"].append(
        {
            "key": "push",
            "use": "essential.service.notifications",
            "legal_basis": "contract",
            "categories": ["user.device.device_id"],
            "retention": {"keep": "P30D", "after": "last_activity"},
        }
    )
    minimal["recipients"] = [
        {
            "name": "Push SDK",
            "role": "sdk",
            "country": "DE",
            "purposes": ["psuh"],
            "categories": ["user.device.device_id"],
        },
        {
            "name": "Mailer",
            "role": "processor",
            "country": "US",
            "purposes": ["push"],
            "categories": ["user.contact.email"],
        },
    ]
    problems = {p.path: p for p in check(minimal)}
    assert set(problems) == {
        "recipients[0].purposes[0]",
        "recipients[1].categories[0]",
        "recipients[1].country",
    }
    assert problems["recipients[0].purposes[0]"].fix == "did you mean push?"
    assert "without a safeguard" in problems["recipients[1].country"].message
    minimal["recipients"][1]["transfer_safeguard"] = "standard_contract"
    minimal["recipients"][1]["categories"] = ["user.device.device_id"]
    minimal["recipients"][0]["purposes"] = ["push"]
    assert check(minimal) == []


def test_cookie_purpose(minimal: dict[str, Any], check: Check) -> None:
    minimal["cookies"] = [{"name": "sid", "purpose": "acount", "expires": "session"}]
    problem = only(check(minimal))
    assert problem.path == "cookies[0].purpose"
    assert problem.fix == "did you mean account?"


def test_age_limit(minimal: dict[str, Any], check: Check) -> None:
    minimal["minimum_age"] = 16
    problem = only(check(minimal))
    assert problem.path == "minimum_age"
    assert "date_of_birth" in (problem.fix or "")
    minimal["categories"].append({"key": "user.demographic.date_of_birth"})
    minimal["purposes"][0]["categories"].append("user.demographic.date_of_birth")
    assert check(minimal) == []
    minimal["minimum_age"] = 25
    assert only(check(minimal)).fix == "use a value of at most 21"


def test_pipl_age_and_basis(minimal: dict[str, Any], check: Check) -> None:
    minimal["jurisdictions"] = ["pipl"]
    minimal["minimum_age"] = 13
    minimal["categories"].append({"key": "user.demographic.date_of_birth"})
    minimal["purposes"][0]["categories"].append("user.demographic.date_of_birth")
    minimal["purposes"][0]["legal_basis"] = "legitimate_interests"
    problems = {p.path: p for p in check(minimal)}
    assert set(problems) == {"minimum_age", "purposes[0].legal_basis"}
    assert problems["minimum_age"].fix == "set minimum_age: 14 or higher"


def test_codes(minimal: dict[str, Any], check: Check) -> None:
    minimal["jurisdictions"] = ["gdpr", "gdpr"]
    minimal["languages"] = ["en", "pt_br", "zz", "en"]
    minimal["organization"]["country"] = "UK"
    problems = {p.path: p for p in check(minimal)}
    assert set(problems) == {
        "jurisdictions[1]",
        "languages[2]",
        "languages[3]",
        "organization.country",
    }
    assert problems["organization.country"].fix == "did you mean GB?"
    minimal["languages"] = ["en", "pt_br"]
    minimal["jurisdictions"] = ["gdpr"]
    minimal["organization"]["country"] = "de"
    declarations = parse_declarations(yaml.safe_dump(minimal))
    assert declarations.languages == ("en", "pt-BR")
    assert declarations.organization.country == "DE"


def test_taxonomy_extensions(minimal: dict[str, Any], check: Check) -> None:
    minimal["taxonomy"] = {
        "prefix": "acme",
        "categories": [
            {"key": "acme.chat", "parent": "user.content.private", "description": "Chats"},
            {"key": "other.thing", "parent": "user.contnet", "description": "Thing"},
            {"key": "user.name", "parent": "user", "description": "Already there"},
        ],
        "uses": [{"key": "acme.visits", "parent": "essential.service", "description": "Visits"}],
    }
    minimal["categories"].append({"key": "acme.chat"})
    minimal["purposes"].append(
        {
            "key": "visits",
            "use": "acme.visits",
            "legal_basis": "contract",
            "categories": ["acme.chat"],
        }
    )
    problems = {p.path: p for p in check(minimal)}
    assert set(problems) == {
        "taxonomy.categories[1].key",
        "taxonomy.categories[1].parent",
        "taxonomy.categories[2].key",
    }
    assert problems["taxonomy.categories[1].key"].fix == "rename it to acme.thing"
    assert problems["taxonomy.categories[1].parent"].fix == "did you mean user.content?"
    minimal["taxonomy"]["prefix"] = "user"
    assert "taxonomy.prefix" in {p.path for p in check(minimal)}


def test_extension_used_without_declaring_it(minimal: dict[str, Any], check: Check) -> None:
    minimal["categories"].append({"key": "acme.chat"})
    minimal["purposes"][0]["categories"].append("acme.chat")
    problem = only(check(minimal))
    assert problem.message == "acme.chat: unknown data category"
    assert "taxonomy.categories" in (problem.fix or "")


def test_datasets(minimal: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "shop.yml").write_text("dataset: []\n", encoding="utf-8")
    minimal["datasets"] = [
        {"file": "shop.yml", "connection": "env:SHOP_DATABASE_URL"},
        {"file": "missing.yml", "connection": "env:CRM_DATABASE_URL"},
        {"file": "crm.yml", "connection": "postgresql://user:secret@db/crm"},
    ]
    problems = check_text(yaml.safe_dump(minimal), "x.yml", base_dir=tmp_path)
    assert {p.path for p in problems} == {"datasets[1].file", "datasets[2].connection"}
    connection = next(p for p in problems if p.path == "datasets[2].connection")
    assert "secret" not in str(connection)
    assert "env:" in str(connection)
    # Without a directory to look in, dataset files are not looked for.
    problems = check_text(yaml.safe_dump(minimal), "x.yml")
    assert {p.path for p in problems} == {"datasets[2].connection"}


def test_merge_keys_and_anchors_are_understood(minimal: dict[str, Any]) -> None:
    text = yaml.safe_dump(minimal) + (
        "recipients:\n"
        "  - &sdk {name: A, role: sdk, country: DE, purposes: [account],"
        " categories: [user.contact.email]}\n"
        "  - <<: *sdk\n"
        "    name: B\n"
    )
    assert check_text(text, "x.yml") == []


def test_every_category_needs_a_retention_rule(minimal: dict[str, Any], check: Check) -> None:
    del minimal["purposes"][0]["retention"]
    problems = check(minimal)
    assert {p.path for p in problems} == {"categories[0].key", "categories[1].key"}
    assert "kept forever" in problems[0].message
    assert problems[0].fix == "add retention (keep, after, then) to a purpose using it: account"
