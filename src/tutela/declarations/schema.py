"""The JSON Schema of the declaration file, for editors and for documentation."""

from __future__ import annotations

from typing import Any

from tutela.declarations.models import Declarations

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a whole declaration file."""
    schema = Declarations.model_json_schema()
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "Tutela declaration file"}
