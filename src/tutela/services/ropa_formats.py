"""The records of processing activities as CSV, JSON and JSON-LD (W3C DPV terms).

Each renderer takes the dict :func:`tutela.services.ropa.build_ropa` returns and gives
text: the same declarations always give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from tutela.domain.errors import InvalidInput
from tutela.domain.receipts import CONTEXT as RECEIPT_CONTEXT

FORMATS = ("csv", "json", "jsonld")

#: CSV columns, in order; each answers an item of GDPR art. 30(1) (see docs/ropa.md).
CSV_COLUMNS = (
    "purpose",
    "description",
    "data_use",
    "role",
    "controller",
    "controller_contact",
    "dpo",
    "legal_basis",
    "data_subjects",
    "personal_data",
    "sensitive_data",
    "recipient_categories",
    "recipients",
    "third_country_transfers",
    "transfer_safeguards",
    "retention",
    "retention_period",
    "retention_start",
    "retention_action",
    "security_measures",
)
SEPARATOR = "; "
NO_LIMIT = "no time limit declared"

CONTEXT = {
    **RECEIPT_CONTEXT,
    "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
    "loc": "https://w3id.org/dpv/loc#",
    "dct": "http://purl.org/dc/terms/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
#: recipient roles of the declarations and the DPV entity each one is
DPV_RECIPIENTS = {
    "processor": "dpv:DataProcessor",
    "controller": "dpv:DataController",
    "third_party": "dpv:ThirdParty",
    "sdk": "dpv:Recipient",
}
#: transfer safeguards and the GDPR legal basis for a transfer each one is (DPV eu-gdpr)
GDPR_TRANSFER_BASES = {
    "adequacy": "eu-gdpr:A45-3",
    "standard_contract": "eu-gdpr:A46-2-c",
    "binding_corporate_rules": "eu-gdpr:A46-2-b",
    "certification": "eu-gdpr:A46-2-f",
    "consent": "eu-gdpr:A49-1-a",
    "derogation": "dpv:DataTransferLegalBasis",
}
_ORGANIZATION = "_:organization"


def render(ropa: dict[str, Any], fmt: str) -> str:
    """``ropa`` as text in ``fmt`` (csv, json or jsonld)."""
    renderers: dict[str, Callable[[dict[str, Any]], str]] = {
        "csv": to_csv,
        "json": to_json,
        "jsonld": to_jsonld,
    }
    renderer = renderers.get(fmt)
    if renderer is None:
        raise InvalidInput(
            f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", details={"field": "format"}
        )
    return renderer(ropa)


# -- CSV and JSON ----------------------------------------------------------------------


def to_csv(ropa: dict[str, Any]) -> str:
    """One row per processing activity under a header row; lists joined with ``"; "``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in ropa["activities"]:
        row = csv_row(ropa, item)
        writer.writerow([row[column] for column in CSV_COLUMNS])
    return out.getvalue()


def csv_row(ropa: dict[str, Any], item: dict[str, Any]) -> dict[str, str]:
    """The CSV cells of one activity, by column."""
    controller = ropa["controller"]
    dpo = controller["dpo"]
    retention = item["retention"] or {}
    recipients = item["recipients"]
    return {
        "purpose": item["purpose"],
        "description": item["description"] or "",
        "data_use": item["use"],
        "role": item["role"],
        "controller": _join(item["controllers"]),
        "controller_contact": _join(v for v in (controller["contact"], controller["address"]) if v),
        "dpo": f"{dpo['name']} <{dpo['email']}>" if dpo else "",
        "legal_basis": item["legal_basis"],
        "data_subjects": _join(s["text"] for s in item["subjects"]),
        "personal_data": _join(c["key"] for c in item["categories"]),
        "sensitive_data": _join(c["key"] for c in item["categories"] if c["sensitive"]),
        "recipient_categories": _join(item["recipient_categories"]),
        "recipients": _join(f"{r['name']} ({r['role']}, {r['country']})" for r in recipients),
        "third_country_transfers": _join(
            f"{t['recipient']} ({t['country']})" for t in item["transfers"]
        ),
        "transfer_safeguards": _join(
            f"{t['recipient']}: {t['safeguard_text']}" for t in item["transfers"]
        ),
        "retention": retention.get("text", NO_LIMIT),
        "retention_period": retention.get("period", ""),
        "retention_start": retention.get("after", ""),
        "retention_action": retention.get("then", ""),
        "security_measures": _join(m["text"] for m in item["security_measures"]),
    }


def to_json(ropa: dict[str, Any]) -> str:
    """The record as indented JSON, keys in a fixed order."""
    return json.dumps(ropa, indent=2, ensure_ascii=False) + "\n"


def _join(values: Any) -> str:
    return SEPARATOR.join(str(v) for v in values)


# -- JSON-LD ---------------------------------------------------------------------------


def to_jsonld(ropa: dict[str, Any]) -> str:
    """The record as JSON-LD: one ``dpv:PersonalDataHandling`` per processing activity."""
    return json.dumps(jsonld(ropa), indent=2, ensure_ascii=False) + "\n"


def jsonld(ropa: dict[str, Any]) -> dict[str, Any]:
    """The JSON-LD document (a dict) of the record."""
    recipients = _recipient_ids(ropa)
    tenants = _tenant_nodes(ropa)
    activities = [_activity(ropa, a, recipients, tenants) for a in ropa["activities"]]
    ropa_node = {
        "@id": "_:ropa",
        "@type": "dpv:ROPA",
        "rdfs:label": f"Records of processing activities of {ropa['controller']['name']}",
        "dpv:hasDataController": {"@id": _ORGANIZATION},
        "dpv:hasPersonalDataHandling": [{"@id": a["@id"]} for a in activities],
    }
    policy = ropa["policy"]
    if policy:
        ropa_node["dct:hasVersion"] = policy["version"]
        if policy["url"]:
            ropa_node["dct:source"] = {"@id": policy["url"]}
    return {
        "@context": dict(CONTEXT),
        "@graph": [
            ropa_node,
            _organization(ropa),
            *tenants.values(),
            *_recipient_nodes(ropa, recipients),
            *activities,
        ],
    }


def _organization(ropa: dict[str, Any]) -> dict[str, Any]:
    org = ropa["controller"]
    node: dict[str, Any] = {
        "@id": _ORGANIZATION,
        "@type": ["dpv:DataController", "dpv:DataProcessor"]
        if ropa["processor"]
        else "dpv:DataController",
        "dpv:hasName": org["name"],
        "dpv:hasContact": org["contact"],
        "dpv:hasCountry": _country(org["country"]),
    }
    if org["address"]:
        node["dpv:hasAddress"] = org["address"]
    if org["dpo"]:
        node["dpv:hasDataProtectionOfficer"] = {
            "@type": "dpv:DataProtectionOfficer",
            "dpv:hasName": org["dpo"]["name"],
            "dpv:hasContact": org["dpo"]["email"],
        }
    return node


def _tenant_nodes(ropa: dict[str, Any]) -> dict[str, dict[str, Any]]:
    processor = ropa["processor"] or {"controllers": []}
    nodes = {}
    for tenant in processor["controllers"]:
        node: dict[str, Any] = {
            "@id": f"_:tenant-{tenant['tenant']}",
            "@type": "dpv:DataController",
            "dpv:hasName": tenant["name"],
        }
        if tenant["contact"]:
            node["dpv:hasContact"] = tenant["contact"]
        if tenant["country"]:
            node["dpv:hasCountry"] = _country(tenant["country"])
        nodes[tenant["tenant"]] = node
    return nodes


def _recipient_ids(ropa: dict[str, Any]) -> dict[str, str]:
    names = dict.fromkeys(r["name"] for a in ropa["activities"] for r in a["recipients"])
    return {name: f"_:recipient-{index}" for index, name in enumerate(names, start=1)}


def _recipient_nodes(ropa: dict[str, Any], ids: dict[str, str]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in ropa["activities"]:
        for recipient in item["recipients"]:
            if recipient["name"] in seen:
                continue
            node: dict[str, Any] = {
                "@id": ids[recipient["name"]],
                "@type": DPV_RECIPIENTS[recipient["role"]],
                "dpv:hasName": recipient["name"],
                "dpv:hasCountry": _country(recipient["country"]),
            }
            if recipient["company"]:
                node["rdfs:label"] = recipient["company"]
            if recipient["third_country"]:
                node["dpv:hasThirdCountry"] = _country(recipient["country"])
            if recipient["policy_url"]:
                node["rdfs:seeAlso"] = {"@id": recipient["policy_url"]}
            seen[recipient["name"]] = node
    return list(seen.values())


def _activity(
    ropa: dict[str, Any],
    item: dict[str, Any],
    recipients: dict[str, str],
    tenants: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    purpose: dict[str, Any] = {"@type": item["use_dpv"], "rdfs:label": item["purpose"]}
    if item["description"]:
        purpose["dct:description"] = item["description"]
    node: dict[str, Any] = {
        "@id": f"_:activity-{item['purpose']}",
        "@type": "dpv:PersonalDataHandling",
        "rdfs:label": item["purpose"],
        "dpv:hasPurpose": purpose,
        "dpv:hasLegalBasis": {"@id": item["legal_basis_dpv"]},
        "dpv:hasDataSubject": [
            {"@type": s["dpv"], "rdfs:label": s["text"]} for s in item["subjects"]
        ],
        "dpv:hasPersonalData": [_personal_data(c) for c in item["categories"]],
    }
    node.update(_entities(item, tenants))
    if item["recipients"]:
        node["dpv:hasRecipient"] = [{"@id": recipients[r["name"]]} for r in item["recipients"]]
    transfers = [_transfer(t, recipients) for t in item["transfers"]]
    if transfers:
        node["dpv:hasPersonalDataHandling"] = transfers
    node["dpv:hasStorageCondition"] = _storage(ropa, item["retention"])
    node["dpv:hasTechnicalOrganisationalMeasure"] = [
        {"@type": m["dpv"], "rdfs:label": m["key"], "dct:description": m["text"]}
        for m in item["security_measures"]
    ]
    return node


def _entities(item: dict[str, Any], tenants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    controllers = []
    if item["role"] != "processor":
        controllers.append({"@id": _ORGANIZATION})
    if item["role"] == "controller":
        return {"dpv:hasDataController": controllers}
    controllers.extend({"@id": node["@id"]} for node in tenants.values())
    found: dict[str, Any] = {"dpv:hasDataProcessor": {"@id": _ORGANIZATION}}
    if controllers:
        found["dpv:hasDataController"] = controllers
    return found


def _personal_data(category: dict[str, Any]) -> dict[str, Any]:
    term = category["dpv"] if ":" in category["dpv"] else "dpv:PersonalData"
    types = [term, "dpv:SensitivePersonalData"] if category["sensitive"] else term
    return {"@type": types, "rdfs:label": category["key"]}


def _transfer(transfer: dict[str, Any], recipients: dict[str, str]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@type": "dpv:PersonalDataHandling",
        "rdfs:label": f"transfer to {transfer['recipient']}",
        "dpv:hasProcessing": {"@id": "dpv:CrossBorderTransfer"},
        "dpv:hasRecipient": {"@id": recipients[transfer["recipient"]]},
        "dpv:hasThirdCountry": _country(transfer["country"]),
    }
    safeguard = transfer["safeguard"]
    if safeguard is None:
        return node
    if "gdpr" in transfer["laws"]:
        node["dpv:hasLegalBasis"] = {"@id": GDPR_TRANSFER_BASES[safeguard]}
    node["dpv:hasTechnicalOrganisationalMeasure"] = {
        "@type": "dpv:SafeguardForDataTransfer",
        "rdfs:label": transfer["safeguard_text"],
    }
    return node


def _storage(ropa: dict[str, Any], retention: dict[str, Any] | None) -> list[dict[str, Any]]:
    storage = ropa["storage"]
    location: dict[str, Any] = {"@type": "dpv:StorageLocation", "rdfs:label": storage["region"]}
    if storage["countries"]:
        location["dpv:hasCountry"] = [_country(c) for c in storage["countries"]]
    if retention is None:
        return [location]
    duration = {
        "@type": "dpv:StorageDuration",
        "rdfs:comment": retention["text"],
        "dpv:hasDuration": {
            "@type": "dpv:TemporalDuration",
            "rdf:value": {"@value": retention["period"], "@type": "xsd:duration"},
        },
    }
    if retention["then"] == "delete":
        ending: dict[str, Any] = {"@type": "dpv:StorageDeletion"}
    else:
        ending = {"@type": "dpv:StorageCondition", "dpv:hasProcessing": {"@id": "dpv:Anonymise"}}
    return [duration, ending, location]


def _country(code: str) -> dict[str, str]:
    return {"@id": f"loc:{code}"}
