"""Policy versions over HTTP: the stored versions, their status, changes and notices."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tutela.entrypoints.api_auth import Who
from tutela.services import policy
from tutela.services.context import Context


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx

    @app.get("/v1/policy/versions", tags=["policy"])
    def versions(who: Who) -> list[dict[str, Any]]:
        return policy.list_versions(ctx, who)

    @app.get("/v1/policy/versions/{version}", tags=["policy"])
    def version(version: int, who: Who) -> dict[str, Any]:
        return policy.show(ctx, who, version)
