"""Incidents over HTTP: the breach register, its clocks, the risk decision, the regulator's
report and the notices to subjects. Scope ``dpo`` or ``admin``, in the key's own tenant."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tutela.entrypoints.api_auth import Who
from tutela.services import incident_notices, incident_reports, incidents
from tutela.services.context import Context


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentFields(_Body):
    summary: str | None = Field(None, description="What happened.")
    kinds: list[str] | None = Field(None, description="confidentiality, integrity, availability")
    aware_at: str | None = Field(None, description="When it was detected (ISO 8601).")
    began_at: str | None = Field(None, description="When it began, if known (ISO 8601).")
    tenants: list[str] | None = Field(
        None, description="Affected tenants (the key's own tenant is always the first)."
    )
    categories: list[str] | None = Field(None, description="Data categories involved.")
    datasets: list[str] | None = Field(None, description="Systems and datasets involved.")
    approx_subjects: int | None = Field(None, ge=0)
    approx_records: int | None = Field(None, ge=0)
    encrypted: bool | None = Field(None, description="Encrypted, keys not compromised.")
    consequences: str | None = None
    measures: list[str] | None = Field(None, description="Measures taken or proposed (added).")
    advice: list[str] | None = Field(None, description="What subjects can do (added).")

    def changes(self) -> incidents.Changes:
        return incidents.Changes(**self.model_dump())


class NewIncident(IncidentFields):
    summary: str = Field(description="What happened.")


class Note(_Body):
    text: str


class Assessment(_Body):
    likelihood: Literal["unlikely", "possible", "likely"]
    severity: Literal["low", "medium", "high"]
    exemptions: list[str] = Field(default_factory=list)
    reason: str


class AuthorityReport(_Body):
    jurisdiction: str | None = None
    at: str | None = None
    phase: Literal["initial", "follow_up", "final"] = "initial"
    reference: str | None = None
    delay_reason: str | None = None


class PublicNotice(_Body):
    where: str
    at: str | None = None


class Delay(_Body):
    clock: str
    reason: str


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx

    @app.post("/v1/incidents", status_code=201, tags=["incidents"])
    def open_incident(body: NewIncident, who: Who) -> dict[str, Any]:
        changes = body.changes()
        tenants = [who.tenant_id, *(t for t in body.tenants or () if t != who.tenant_id)]
        return incidents.open_incident(ctx, who, replace(changes, tenants=tenants))

    @app.get("/v1/incidents", tags=["incidents"])
    def listing(who: Who, all: bool = False) -> list[dict[str, Any]]:
        return incidents.listing(ctx, who, include_closed=all)

    @app.get("/v1/incidents/{incident_id}", tags=["incidents"])
    def show(incident_id: str, who: Who) -> dict[str, Any]:
        return incidents.show(ctx, who, incident_id)

    @app.patch("/v1/incidents/{incident_id}", tags=["incidents"])
    def update(incident_id: str, body: IncidentFields, who: Who) -> dict[str, Any]:
        return incidents.update(ctx, who, incident_id, body.changes())

    @app.post("/v1/incidents/{incident_id}/notes", tags=["incidents"])
    def note(incident_id: str, body: Note, who: Who) -> dict[str, Any]:
        return incidents.note(ctx, who, incident_id, body.text)

    @app.post("/v1/incidents/{incident_id}/assessment", tags=["incidents"])
    def assess(incident_id: str, body: Assessment, who: Who) -> dict[str, Any]:
        return incidents.assess(
            ctx, who, incident_id, body.likelihood, body.severity, body.exemptions, body.reason
        )

    @app.get("/v1/incidents/{incident_id}/affected", tags=["incidents"])
    def affected(incident_id: str, who: Who, ids: bool = False) -> dict[str, Any]:
        return incidents.affected(ctx, who, incident_id, with_ids=ids)

    @app.post("/v1/incidents/{incident_id}/notify", tags=["incidents"])
    def notify(incident_id: str, who: Who) -> dict[str, Any]:
        return incident_notices.notify(ctx, who, incident_id)

    @app.post("/v1/incidents/{incident_id}/authority-reports", tags=["incidents"])
    def authority_notified(incident_id: str, body: AuthorityReport, who: Who) -> dict[str, Any]:
        return incidents.authority_notified(
            ctx,
            who,
            incident_id,
            body.jurisdiction,
            body.at,
            body.phase,
            body.reference,
            body.delay_reason,
        )

    @app.post("/v1/incidents/{incident_id}/public-notice", tags=["incidents"])
    def public_notice(incident_id: str, body: PublicNotice, who: Who) -> dict[str, Any]:
        return incidents.public_notice(ctx, who, incident_id, body.at, body.where)

    @app.post("/v1/incidents/{incident_id}/delays", tags=["incidents"])
    def delay(incident_id: str, body: Delay, who: Who) -> dict[str, Any]:
        return incidents.delay(ctx, who, incident_id, body.clock, body.reason)

    @app.get("/v1/incidents/{incident_id}/report", tags=["incidents"])
    def report(
        incident_id: str,
        who: Who,
        format: Annotated[Literal["md", "html", "json"], Query()] = "md",
        lang: str | None = None,
        jurisdiction: str | None = None,
    ) -> Response:
        if format == "json":
            return JSONResponse(incident_reports.content(ctx, who, incident_id, lang, jurisdiction))
        text = incident_reports.render(ctx, who, incident_id, format, lang, jurisdiction)
        if format == "html":
            return HTMLResponse(text)
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")

    @app.post("/v1/incidents/{incident_id}/close", tags=["incidents"])
    def close(incident_id: str, who: Who) -> dict[str, Any]:
        return incidents.close(ctx, who, incident_id)
