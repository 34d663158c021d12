"""The REST API: thin routes that parse a request, call a service, return JSON.

Authentication: ``Authorization: Bearer tut_…`` (or ``X-API-Key``). Every route runs in the
thread pool (plain ``def``), so database work and argon2id never block the event loop.
Identities (email, phone) travel in request bodies, never in URLs, so they stay out of logs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

import tutela
from tutela.bootstrap import Runtime, open_runtime
from tutela.domain.errors import InvalidInput
from tutela.domain.identities import EMAIL_CATEGORY, PHONE_CATEGORY
from tutela.domain.subjects import BIRTH_DATE_CATEGORY
from tutela.entrypoints import (
    api_banner,
    api_consent,
    api_errors,
    api_policy,
    api_requests,
    api_retention,
    api_tenants,
)
from tutela.entrypoints.api_auth import AuthCache, Who
from tutela.entrypoints.api_incidents import install as install_incidents
from tutela.entrypoints.api_notice import install as install_notice
from tutela.services import audit, imports, keys, tenants, vault
from tutela.settings import Settings


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewSubject(_Body):
    email: str | None = Field(None, description="Email address (identity, blind-indexed).")
    phone: str | None = Field(None, description="Phone number (identity, stored as E.164).")
    birth_date: str | None = Field(None, description="YYYY-MM-DD.")
    age: int | None = Field(None, description="Age claimed at registration (without a birth date).")
    fields: dict[str, str] = Field(default_factory=dict, description="category -> value")
    language: str | None = Field(
        None, description="Language notices are written in (a declared one; default: first)."
    )

    def assignments(self) -> dict[str, str]:
        values = dict(self.fields)
        for key, value in (
            (EMAIL_CATEGORY, self.email),
            (PHONE_CATEGORY, self.phone),
            (BIRTH_DATE_CATEGORY, self.birth_date),
        ):
            if value is not None:
                values[key] = value
        return values


class SubjectChange(_Body):
    fields: dict[str, str | None] = Field(
        default_factory=dict, description="category -> new value, or null to remove"
    )
    language: str | None = Field(
        None, description="Language notices are written in (a declared one)."
    )


class Lookup(_Body):
    email: str | None = None
    phone: str | None = None


class SecretCheck(_Body):
    category: str
    value: str


class Import(_Body):
    rows: list[dict[str, str]] = Field(description="One object of category -> value per subject")


class NewTenant(_Body):
    id: str
    name: str = ""


class NewKey(_Body):
    tenant: str | None = Field(None, description="Defaults to the caller's tenant.")
    scopes: list[str] = Field(default_factory=lambda: ["app"])
    name: str = ""


def asgi_app() -> api_consent.FastPath:
    """What the server runs (each worker builds its own from the environment settings)."""
    return api_consent.FastPath(create_app(Settings.from_env()))


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or open_runtime(settings or Settings.from_env())
    ctx = rt.ctx
    app = FastAPI(
        title="Tutela",
        version=tutela.__version__,
        description="Personal-data protection: encrypted subject vault, tenants, audit.",
    )
    app.state.runtime = rt
    app.state.auth_cache = AuthCache()
    api_errors.install(app)

    @app.get("/v1/health", tags=["service"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": tutela.__version__}

    @app.get("/v1/declarations", tags=["service"])
    def declarations(_who: Who) -> dict[str, Any]:
        current = ctx.declarations
        document = current.model_dump(mode="json") if hasattr(current, "model_dump") else None
        return {"version": ctx.declarations_version, "declarations": document}

    @app.post("/v1/subjects", status_code=201, tags=["subjects"])
    def register(body: NewSubject, who: Who) -> dict[str, Any]:
        view = vault.register(
            ctx, who, body.assignments(), age_claim=body.age, language=body.language
        )
        return view.as_dict()

    @app.get("/v1/subjects", tags=["subjects"])
    def list_subjects(
        who: Who,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        page = vault.list_page(ctx, who, cursor, limit)
        return {"items": page.items, "next_cursor": page.next_cursor}

    @app.post("/v1/subjects/lookup", tags=["subjects"])
    def lookup(body: Lookup, who: Who) -> dict[str, Any]:
        if (body.email is None) == (body.phone is None):
            raise InvalidInput("give exactly one of email or phone")
        kind, value = ("email", body.email) if body.email is not None else ("phone", body.phone)
        assert value is not None
        return vault.find(ctx, who, kind, value).as_dict()

    @app.post("/v1/subjects/import", status_code=201, tags=["subjects"])
    def import_rows(body: Import, who: Who) -> dict[str, Any]:
        result = imports.import_subjects(ctx, who, body.rows)
        return {"imported": result.imported, "ids": result.ids}

    @app.get("/v1/subjects/{subject_id}", tags=["subjects"])
    def show(subject_id: str, who: Who) -> dict[str, Any]:
        return vault.read(ctx, who, subject_id).as_dict()

    @app.patch("/v1/subjects/{subject_id}", tags=["subjects"])
    def correct(subject_id: str, body: SubjectChange, who: Who) -> dict[str, Any]:
        if body.language is not None:
            vault.set_language(ctx, who, subject_id, body.language)
            if not body.fields:
                return vault.read(ctx, who, subject_id).as_dict()
        return vault.update(ctx, who, subject_id, body.fields).as_dict()

    @app.delete("/v1/subjects/{subject_id}", tags=["subjects"])
    def erase(subject_id: str, who: Who, reason: str = "erasure") -> dict[str, Any]:
        return vault.erase(ctx, who, subject_id, reason).as_dict()

    @app.post("/v1/subjects/{subject_id}/verify", tags=["subjects"])
    def verify_secret(subject_id: str, body: SecretCheck, who: Who) -> dict[str, Any]:
        return {"match": vault.verify_secret(ctx, who, subject_id, body.category, body.value)}

    @app.get("/v1/tenants", tags=["tenants"])
    def list_tenants(who: Who) -> list[dict[str, object]]:
        return tenants.list_tenants(ctx, who)

    @app.post("/v1/tenants", status_code=201, tags=["tenants"])
    def create_tenant(body: NewTenant, who: Who) -> dict[str, object]:
        return tenants.create_tenant(ctx, who, body.id, body.name or body.id)

    @app.get("/v1/keys", tags=["tenants"])
    def list_keys(who: Who, tenant: str | None = None) -> list[dict[str, object]]:
        return tenants.list_keys(ctx, who, tenant)

    @app.post("/v1/keys", status_code=201, tags=["tenants"])
    def issue_key(body: NewKey, who: Who) -> dict[str, object]:
        return tenants.issue_key(
            ctx, who, body.tenant or who.tenant_id, body.name, body.scopes
        ).as_dict()

    @app.delete("/v1/keys/{key_id}", tags=["tenants"])
    def revoke_key(key_id: str, who: Who) -> dict[str, object]:
        tenants.revoke_key(ctx, who, key_id)
        return {"revoked": key_id}

    @app.get("/v1/audit", tags=["audit"])
    def audit_entries(
        who: Who,
        subject: str | None = None,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, object]]:
        return audit.entries(ctx, who, subject_id=subject, after=after, limit=limit)

    @app.post("/v1/audit/verify", tags=["audit"])
    def audit_verify(who: Who) -> dict[str, object]:
        return audit.verify(ctx, who).as_dict()

    @app.get("/v1/keys/status", tags=["service"])
    def key_status(who: Who) -> dict[str, object]:
        who.require("keys.manage")
        return keys.status(ctx)

    install_incidents(app)
    api_consent.install(app)
    api_requests.install(app)
    api_banner.install(app)
    api_tenants.install(app)
    api_retention.install(app)
    api_policy.install(app)
    install_notice(app)
    install_admin(app)
    install_web(app)
    return app


def install_web(app: FastAPI) -> None:
    """The web pages: the privacy center under /privacy/ and their static files."""
    from tutela.entrypoints import web_base, web_privacy, web_privacy_data, web_privacy_requests

    web_base.install_static(app)
    web_privacy.install(app)
    web_privacy_data.install(app)
    web_privacy_requests.install(app)


def install_admin(app: FastAPI) -> None:
    """The admin console under /admin/ (the privacy officer's pages)."""
    from tutela.entrypoints import web_admin, web_admin_pages, web_admin_requests

    web_admin.install(app)
    web_admin_requests.install(app)
    web_admin_pages.install(app)
