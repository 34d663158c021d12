"""A tenant's own settings over HTTP: its retention periods, within the declared bounds."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from tutela.entrypoints.api_auth import Who
from tutela.services import tenant_retention
from tutela.services.context import Context


class RetentionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: str = Field(description="ISO 8601 duration within the purpose's bounds, e.g. P180D.")


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx

    @app.get("/v1/tenants/{tenant}/retention", tags=["tenants"])
    def retention_list(tenant: str, who: Who) -> list[dict[str, Any]]:
        return tenant_retention.listing(ctx, who, tenant)

    @app.put("/v1/tenants/{tenant}/retention/{purpose}", tags=["tenants"])
    def retention_set(tenant: str, purpose: str, body: RetentionChange, who: Who) -> dict[str, Any]:
        return tenant_retention.set_period(ctx, who, purpose, body.keep, tenant)
