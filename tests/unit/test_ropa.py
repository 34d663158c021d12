"""Records of processing activities (GDPR art. 30) built from the declaration files."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from typer.testing import CliRunner

from tutela.declarations import Declarations, load_declarations, parse_declarations
from tutela.declarations.diff import diff_declarations
from tutela.declarations.models import DataSubject
from tutela.domain.errors import DeclarationInvalid
from tutela.domain.receipts import DPV_LEGAL_BASES
from tutela.entrypoints.cli import app
from tutela.services.ropa import build_ropa, duration_words, retention_text
from tutela.services.ropa_formats import CONTEXT, CSV_COLUMNS, jsonld, render, to_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = [
    EXAMPLES / "desktop-vendor.yml",
    EXAMPLES / "mobile-app.yml",
    EXAMPLES / "saas-helpdesk.yml",
    EXAMPLES / "fides-shop" / "tutela.yaml",
]
DESKTOP = FILES[0]

Edit = Callable[[dict[str, Any]], None]


def _edited(source: Path, edit: Edit) -> Declarations:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    edit(data)
    return parse_declarations(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def _activity(ropa: dict[str, Any], key: str) -> dict[str, Any]:
    return next(a for a in ropa["activities"] if a["purpose"] == key)


def _with_recipients(*recipients: dict[str, Any]) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["recipients"] = list(recipients)

    return edit


ABROAD = {
    "name": "Example Mail Relay",
    "role": "processor",
    "company": "Example Relay Inc.",
    "country": "US",
    "purposes": ["support"],
    "categories": ["user.contact.email"],
    "transfer_safeguard": "standard_contract",
}
UNGUARDED = {
    "name": "Example Crash Desk",
    "role": "sdk",
    "country": "IN",
    "purposes": ["support", "account"],
    "categories": ["user.account.username"],
    "transfer_safeguard": "derogation",
}
AT_HOME = {
    "name": "Example Hosting",
    "role": "processor",
    "country": "FR",
    "purposes": ["account"],
    "categories": ["user.contact.email"],
    "transfer_safeguard": "standard_contract",
}


# -- every purpose, with everything art. 30(1) asks ---------------------------------------


@pytest.mark.parametrize("path", FILES, ids=[p.parent.name + "/" + p.name for p in FILES])
def test_every_purpose_is_a_record_with_its_facts(path: Path) -> None:
    declarations = load_declarations(path)
    ropa = build_ropa(declarations)

    assert [a["purpose"] for a in ropa["activities"]] == [p.key for p in declarations.purposes]
    assert ropa["controller"]["name"] == declarations.organization.name
    assert ropa["controller"]["contact"] == declarations.organization.contact
    for purpose in declarations.purposes:
        item = _activity(ropa, purpose.key)
        assert item["legal_basis"] == purpose.legal_basis
        assert item["legal_basis_dpv"] == DPV_LEGAL_BASES[purpose.legal_basis]
        assert [c["key"] for c in item["categories"]] == list(purpose.categories)
        assert item["subjects"], f"{purpose.key} names no data subjects"
        assert item["security_measures"]
        receiving = [r for r in declarations.recipients if purpose.key in r.purposes]
        assert [r["name"] for r in item["recipients"]] == [r.name for r in receiving]
        assert [r["country"] for r in item["recipients"]] == [r.country for r in receiving]
        assert [r["transfer_safeguard"] for r in item["recipients"]] == [
            r.transfer_safeguard for r in receiving
        ]
        if purpose.retention is None:
            assert item["retention"] is None
        else:
            assert item["retention"]["period"] == purpose.retention.keep
            assert item["retention"]["after"] == purpose.retention.after
            assert item["retention"]["then"] == purpose.retention.then
            assert item["retention"]["text"]


def test_the_same_declarations_give_the_same_bytes() -> None:
    declarations = load_declarations(EXAMPLES / "saas-helpdesk.yml")
    for fmt in ("csv", "json", "jsonld"):
        assert render(build_ropa(declarations), fmt) == render(build_ropa(declarations), fmt)


# -- recipients and transfers -------------------------------------------------------------


def test_recipients_outside_the_eea_are_transfers_with_their_safeguards() -> None:
    declarations = _edited(DESKTOP, _with_recipients(ABROAD, UNGUARDED, AT_HOME))
    ropa = build_ropa(declarations)

    support = _activity(ropa, "support")
    assert support["transfers"] == [
        {
            "recipient": "Example Mail Relay",
            "country": "US",
            "laws": ["gdpr"],
            "safeguard": "standard_contract",
            "safeguard_text": "standard contractual clauses",
        },
        {
            "recipient": "Example Crash Desk",
            "country": "IN",
            "laws": ["gdpr"],
            "safeguard": "derogation",
            "safeguard_text": "derogation for a specific situation",
        },
    ]
    assert support["recipient_categories"] == ["SDK vendors", "processors"]
    account = _activity(ropa, "account")
    hosting = next(r for r in account["recipients"] if r["name"] == "Example Hosting")
    assert hosting["third_country"] is False
    assert [t["recipient"] for t in account["transfers"]] == ["Example Crash Desk"]
    assert _activity(ropa, "orders")["recipients"] == []


def test_a_transfer_without_a_safeguard_says_so() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["storage"] = {"region": "EU"}
        data["recipients"] = [{k: v for k, v in UNGUARDED.items() if k != "transfer_safeguard"}]

    support = _activity(build_ropa(_edited(DESKTOP, edit)), "support")
    assert support["transfers"][0]["safeguard"] is None
    assert support["transfers"][0]["safeguard_text"] == "none declared"


def test_under_pipl_a_transfer_leaves_china() -> None:
    abroad = {**ABROAD, "country": "DE", "purposes": ["service"]}
    at_home = {**AT_HOME, "country": "CN", "purposes": ["service"]}
    declarations = _edited(EXAMPLES / "mobile-app.yml", _with_recipients(abroad, at_home))
    service = _activity(build_ropa(declarations), "service")
    assert [(t["recipient"], t["laws"]) for t in service["transfers"]] == [
        ("Example Mail Relay", ["pipl"])
    ]


# -- data subjects ------------------------------------------------------------------------


def _subjects(ropa: dict[str, Any], key: str) -> list[str]:
    return [s["key"] for s in _activity(ropa, key)["subjects"]]


def test_data_subjects_are_derived_from_categories_cookies_and_minimum_age() -> None:
    desktop = build_ropa(load_declarations(DESKTOP))
    assert _subjects(desktop, "account") == ["user", "minor"]
    assert _subjects(desktop, "user_counting") == ["user", "visitor", "minor", "guardian"]
    minor = _activity(desktop, "account")["subjects"][1]
    assert minor == {
        "key": "minor",
        "text": "minors under 18, with a guardian's consent",
        "dpv": "dpv:Child",
        "source": "derived",
    }

    mobile = build_ropa(load_declarations(EXAMPLES / "mobile-app.yml"))
    assert _subjects(mobile, "product_analytics") == ["pseudonymous_user", "minor", "guardian"]

    helpdesk = build_ropa(load_declarations(EXAMPLES / "saas-helpdesk.yml"))
    assert _subjects(helpdesk, "conversations") == ["tenant_end_user", "minor"]

    shop = build_ropa(load_declarations(EXAMPLES / "fides-shop" / "tutela.yaml"))
    assert _subjects(shop, "orders") == ["user"]


def test_declared_subjects_replace_the_derived_groups() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["purposes"][1]["subjects"] = ["customer", "employee", "customer"]

    shop = build_ropa(_edited(EXAMPLES / "fides-shop" / "tutela.yaml", edit))
    assert _activity(shop, "support")["subjects"] == [
        {"key": "customer", "text": "customers", "dpv": "dpv:Customer", "source": "declared"},
        {"key": "employee", "text": "employees", "dpv": "dpv:Employee", "source": "declared"},
    ]


def test_subject_keys_are_fideslangs_data_subjects() -> None:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    assert set(get_args(DataSubject)) == {s.fides_key for s in DEFAULT_TAXONOMY.data_subject}


def test_an_unknown_subject_is_a_problem_with_a_suggestion() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["purposes"][0]["subjects"] = ["custmer"]

    with pytest.raises(DeclarationInvalid) as caught:
        _edited(DESKTOP, edit)
    problem = caught.value.details["problems"][0]
    assert problem["path"] == "purposes[0].subjects[0]"
    assert "did you mean customer?" in problem["fix"]


def test_a_new_group_of_subjects_is_a_material_policy_change() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["purposes"][0]["subjects"] = ["customer"]

    changes = diff_declarations(load_declarations(DESKTOP), _edited(DESKTOP, edit))
    assert [(c.path, c.material) for c in changes] == [
        ("purposes[account].subjects[customer]", True)
    ]


# -- retention in words -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iso", "words"),
    [
        ("P3Y", "3 years"),
        ("P1Y", "1 year"),
        ("P13M", "13 months"),
        ("P1Y6M", "1 year and 6 months"),
        ("P1Y2M3D", "1 year, 2 months and 3 days"),
        ("P2W", "2 weeks"),
        ("PT12H", "12 hours"),
        ("P0D", "0 days"),
    ],
)
def test_duration_words(iso: str, words: str) -> None:
    assert duration_words(iso) == words


def test_retention_in_words() -> None:
    helpdesk = load_declarations(EXAMPLES / "saas-helpdesk.yml")
    rules = {p.key: p.retention for p in helpdesk.purposes}
    rules["user_counting"] = next(
        p.retention for p in load_declarations(DESKTOP).purposes if p.key == "user_counting"
    )
    words = {key: retention_text(rule) for key, rule in rules.items() if rule is not None}
    assert words["voice_video_calls"] == "deleted when the purpose ends"
    assert words["user_counting"] == "kept 13 months after collection, then anonymized"
    assert words["conversations"] == (
        "kept 1 year after collection, then deleted, and each tenant may choose from 7 days "
        "to 5 years"
    )


# -- processor record (art. 30(2)) and security measures ----------------------------------


def test_multi_tenant_declarations_have_a_processor_record() -> None:
    ropa = build_ropa(load_declarations(EXAMPLES / "saas-helpdesk.yml"))
    processor = ropa["processor"]
    assert processor["processor"]["name"] == "Shembull Cloud Sh.p.k."
    assert [c["tenant"] for c in processor["controllers"]] == [
        "shembull-retail",
        "example-logistics",
    ]
    assert [p["purpose"] for p in processor["processing"]] == [
        "conversations",
        "workforce_directory",
    ]
    conversations = processor["processing"][0]
    assert conversations["categories"] == [
        "helpdesk.chat_record",
        "helpdesk.file",
        "helpdesk.call_recording",
    ]
    assert conversations["retention"]["tenant_periods"] == {
        "shembull-retail": "P180D",
        "example-logistics": "P2Y",
    }
    assert _activity(ropa, "conversations")["role"] == "processor"
    assert _activity(ropa, "registration")["role"] == "controller"
    assert build_ropa(load_declarations(DESKTOP))["processor"] is None


def _measures(ropa: dict[str, Any], key: str) -> set[str]:
    return {m["key"] for m in _activity(ropa, key)["security_measures"]}


def test_security_measures_follow_the_categories() -> None:
    desktop = build_ropa(load_declarations(DESKTOP))
    assert {"field_encryption", "blind_index", "password_hashing", "crypto_shredding"} <= (
        _measures(desktop, "account")
    )
    assert {"audit_log", "access_control", "key_management"} <= _measures(desktop, "session")
    assert not {"password_hashing", "blind_index"} & _measures(desktop, "session")
    mobile = build_ropa(load_declarations(EXAMPLES / "mobile-app.yml"))
    assert "pseudonymous_separation" in _measures(mobile, "product_analytics")


def test_a_declared_data_store_is_noted_apart() -> None:
    shop = build_ropa(load_declarations(EXAMPLES / "fides-shop" / "tutela.yaml"))
    assert any("dataset.yml" in note for note in shop["notes"])


# -- formats ------------------------------------------------------------------------------


def test_csv_has_one_row_per_activity_with_the_article_30_columns() -> None:
    declarations = _edited(DESKTOP, _with_recipients(ABROAD, UNGUARDED))
    text = to_csv(build_ropa(declarations))
    rows = list(csv.DictReader(io.StringIO(text)))

    assert tuple(rows[0]) == CSV_COLUMNS
    for column in (
        "purpose",
        "controller",
        "dpo",
        "legal_basis",
        "data_subjects",
        "personal_data",
        "recipients",
        "third_country_transfers",
        "transfer_safeguards",
        "retention",
        "security_measures",
    ):
        assert column in CSV_COLUMNS
    assert [r["purpose"] for r in rows] == [p.key for p in declarations.purposes]
    account = rows[0]
    assert account["controller"] == "Beispiel Software GmbH"
    assert "Musterstraße 1" in account["controller_contact"]
    assert account["dpo"] == "Data Protection Officer <dpo@example.com>"
    assert account["personal_data"].split("; ") == [
        "user.account.username",
        "user.contact.email",
        "user.authorization.password",
        "user.demographic.date_of_birth",
    ]
    assert account["retention_period"] == "P30D"
    assert account["retention_start"] == "account_closed"
    support = rows[2]
    assert support["third_country_transfers"] == "Example Mail Relay (US); Example Crash Desk (IN)"
    assert support["transfer_safeguards"] == (
        "Example Mail Relay: standard contractual clauses; "
        "Example Crash Desk: derogation for a specific situation"
    )
    assert all(
        len(m.split("; ")) == len(set(m.split("; "))) for m in [support["security_measures"]]
    )


def test_json_parses_with_stable_keys() -> None:
    ropa = json.loads(render(build_ropa(load_declarations(DESKTOP)), "json"))
    assert list(ropa) == [
        "schema",
        "standard",
        "policy",
        "controller",
        "jurisdictions",
        "storage",
        "activities",
        "processor",
        "notes",
    ]
    assert ropa["schema"] == "tutela-ropa/1"
    assert list(ropa["activities"][0])[:3] == ["purpose", "description", "use"]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_jsonld_uses_dpv_terms_under_a_context() -> None:
    declarations = _edited(DESKTOP, _with_recipients(ABROAD, AT_HOME))
    document = json.loads(render(build_ropa(declarations), "jsonld"))

    assert document["@context"]["dpv"] == "https://w3id.org/dpv#"
    graph = document["@graph"]
    handlings = [n for n in graph if n.get("@type") == "dpv:PersonalDataHandling"]
    assert [n["rdfs:label"] for n in handlings] == [p.key for p in declarations.purposes]
    bases = {n["rdfs:label"]: n["dpv:hasLegalBasis"]["@id"] for n in handlings}
    assert bases == {p.key: DPV_LEGAL_BASES[p.legal_basis] for p in declarations.purposes}
    assert set(bases.values()) <= {
        "dpv:Contract",
        "dpv:LegalObligation",
        "dpv:Consent",
        "dpv:LegitimateInterest",
    }

    support = next(n for n in handlings if n["rdfs:label"] == "support")
    for key in (
        "dpv:hasPurpose",
        "dpv:hasPersonalData",
        "dpv:hasDataSubject",
        "dpv:hasDataController",
        "dpv:hasRecipient",
        "dpv:hasStorageCondition",
        "dpv:hasTechnicalOrganisationalMeasure",
    ):
        assert key in support, key
    transfer = support["dpv:hasPersonalDataHandling"][0]
    assert transfer["dpv:hasThirdCountry"] == {"@id": "loc:US"}
    assert transfer["dpv:hasLegalBasis"] == {"@id": "eu-gdpr:A46-2-c"}
    duration = support["dpv:hasStorageCondition"][0]
    assert duration["@type"] == "dpv:StorageDuration"
    assert duration["dpv:hasDuration"]["rdf:value"] == {"@value": "P2Y", "@type": "xsd:duration"}

    prefixes = set(CONTEXT)
    for node in _walk(document):
        if isinstance(node, str) and re.fullmatch(r"[a-z][a-z-]*:[A-Za-z0-9-]+", node):
            assert node.split(":")[0] in prefixes | {"_"}, node
    organization = next(n for n in graph if n.get("@id") == "_:organization")
    assert organization["dpv:hasDataProtectionOfficer"]["dpv:hasContact"] == "dpo@example.com"


def test_jsonld_names_tenants_as_controllers_of_processed_data() -> None:
    document = jsonld(build_ropa(load_declarations(EXAMPLES / "saas-helpdesk.yml")))
    graph = document["@graph"]
    conversations = next(n for n in graph if n.get("@id") == "_:activity-conversations")
    assert conversations["dpv:hasDataProcessor"] == {"@id": "_:organization"}
    assert {"@id": "_:tenant-shembull-retail"} in conversations["dpv:hasDataController"]
    assert {"@id": "_:organization"} not in conversations["dpv:hasDataController"]


# -- command line -------------------------------------------------------------------------


def test_cli_prints_csv_from_a_declaration_file() -> None:
    result = CliRunner().invoke(app, ["ropa", "--declarations", str(DESKTOP), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["purpose"] for r in rows] == [p.key for p in load_declarations(DESKTOP).purposes]


def test_cli_writes_jsonld_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "ropa.jsonld"
    path = str(EXAMPLES / "saas-helpdesk.yml")
    result = CliRunner().invoke(
        app, ["ropa", "-d", path, "--format", "jsonld", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert "@context" in document
    assert "written to" in result.stderr


def test_cli_refuses_an_unknown_format() -> None:
    result = CliRunner().invoke(app, ["ropa", "-d", str(DESKTOP), "--format", "xml"])
    assert result.exit_code == 2
