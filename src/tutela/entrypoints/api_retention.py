"""Retention over HTTP: recording that a purpose ended (rules counted from it start then)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from tutela.entrypoints.api_auth import Who
from tutela.services import purpose_endings
from tutela.services.context import Context


class PurposeEndingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(description="The declared purpose that ended.")
    subject_id: str | None = Field(
        None, description="The subject it ended for; omitted: every subject of the tenant."
    )
    at: str | None = Field(
        None, description="When it ended, ISO 8601 (e.g. 2026-03-31T17:00:00Z); default now."
    )


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx

    @app.post("/v1/retention/purpose-endings", status_code=201, tags=["retention"])
    def end_purpose(body: PurposeEndingBody, who: Who) -> dict[str, Any]:
        """Record that a purpose ended (dpo or admin scope); audited as purpose.end."""
        return purpose_endings.end_purpose(
            ctx, who, body.purpose, subject_id=body.subject_id, at=body.at
        )
