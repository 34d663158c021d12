from __future__ import annotations

import json

from tutela.declarations import json_schema

TOP_LEVEL = {
    "tutela",
    "organization",
    "jurisdictions",
    "languages",
    "minimum_age",
    "storage",
    "taxonomy",
    "tenancy",
    "tenants",
    "categories",
    "purposes",
    "recipients",
    "cookies",
    "datasets",
    "policy",
}


def test_schema_is_json_and_names_every_top_level_key() -> None:
    schema = json.loads(json.dumps(json_schema()))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Tutela declaration file"
    assert set(schema["properties"]) == TOP_LEVEL
    assert set(schema["required"]) >= {"tutela", "organization", "categories", "purposes"}
    assert schema["additionalProperties"] is False


def test_schema_documents_fields() -> None:
    schema = json_schema()
    category = schema["$defs"]["Category"]["properties"]
    assert "blind index" in category["identity"]["description"]
    assert category["storage"]["enum"] == ["encrypt", "hash"]
    retention = schema["$defs"]["Retention"]["properties"]
    assert retention["keep"]["pattern"].startswith("^P")
    for name, definition in schema["$defs"].items():
        if "properties" in definition:
            for field, spec in definition["properties"].items():
                assert spec.get("description"), f"{name}.{field} has no description"
