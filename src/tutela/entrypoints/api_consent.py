"""Consent over HTTP: record, show, receipts, and the fast decision endpoints.

The two check endpoints are plain Starlette routes placed before FastAPI's own: a check
with a warm cache pays no dependency injection, validation or serialisation layers. They are
also declared as FastAPI routes, so the OpenAPI document describes them; those declarations
are never reached.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as RawRequest
from starlette.responses import Response
from starlette.routing import Route

from tutela.domain.access import Principal
from tutela.domain.consent import METHODS, Decision
from tutela.domain.errors import InvalidInput, TutelaError, Unauthenticated
from tutela.entrypoints import api_errors
from tutela.entrypoints.api_auth import Who
from tutela.services import consent, tenants
from tutela.services.context import Context

MAX_BATCH = 1000
CHECK_PATH = "/v1/consent/check"


class GuardianBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    verified_by: str = Field(description="How the guardian was verified, e.g. id_document.")


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["grant", "refuse", "withdraw"]
    purposes: list[str] = Field(
        default_factory=list, description="Consent-based purposes; empty withdraw = all."
    )
    method: str = Field("api", description=", ".join(METHODS))
    bundled: bool = Field(False, description="Part of an accept-all.")
    guardian: GuardianBody | None = None
    jurisdiction: str | None = None
    language: str | None = None


class RenewalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purposes: list[str] = Field(min_length=1)


class CheckItem(BaseModel):
    subject: str
    purpose: str


class CheckBatch(BaseModel):
    checks: list[CheckItem] = Field(max_length=MAX_BATCH)


class DecisionOut(BaseModel):
    allowed: bool
    reason: str


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def gpc_requested(request: RawRequest) -> bool:
    return request.headers.get("sec-gpc", "").strip() == "1"


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx

    @app.post("/v1/subjects/{subject_id}/consent", status_code=201, tags=["consent"])
    def record_consent(
        subject_id: str, body: ConsentBody, request: Request, who: Who
    ) -> dict[str, Any]:
        guardian = (
            consent.Guardian(body.guardian.email, body.guardian.verified_by)
            if body.guardian
            else None
        )
        options: dict[str, Any] = {
            "method": body.method,
            "guardian": guardian,
            "jurisdiction": body.jurisdiction,
            "language": body.language,
            "evidence": consent.Evidence(request.headers.get("user-agent"), _client_ip(request)),
        }
        if body.action == "withdraw" and not body.purposes:
            events = consent.withdraw_all(ctx, who, subject_id, **options)
        else:
            events = consent.record(
                ctx, who, subject_id, body.purposes, body.action, bundled=body.bundled, **options
            )
        if gpc_requested(request):
            events += consent.apply_gpc(ctx, who, subject_id, options["evidence"])
        return {"events": events}

    @app.post("/v1/consent/renewals", tags=["consent"])
    def require_renewal(body: RenewalBody, who: Who) -> dict[str, Any]:
        """Consents to these purposes given before now stop counting (platform scope)."""
        return consent.require_renewal(ctx, who, body.purposes)

    @app.get("/v1/subjects/{subject_id}/consent", tags=["consent"])
    def show_consent(subject_id: str, who: Who) -> dict[str, Any]:
        return consent.show(ctx, who, subject_id)

    @app.get("/v1/consent/receipts/{record_id}", tags=["consent"])
    def get_receipt(record_id: str, who: Who, request: Request) -> Response:
        token = consent.receipt(ctx, who, record_id)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"id": record_id, "receipt": token})
        return PlainTextResponse(token, media_type="application/jose")

    @app.get("/.well-known/tutela-keys", tags=["consent"])
    def receipt_keys() -> dict[str, Any]:
        """Public keys (JWKS) that verify consent receipts offline."""
        assert ctx.signer is not None
        return ctx.signer.jwks()

    # -- the documented shapes of the fast endpoints (served by the raw routes below) ---

    @app.get("/v1/consent/check", tags=["consent"], response_model=DecisionOut)
    def check_doc(
        who: Who, subject: Annotated[str, Query()], purpose: Annotated[str, Query()]
    ) -> dict[str, Any]:
        """May this purpose process this subject's data now? Always 200 with a reason."""
        return consent.check(ctx, who, subject, purpose).as_dict()  # pragma: no cover

    @app.post("/v1/consent/check", tags=["consent"], response_model=dict[str, list[DecisionOut]])
    def check_batch_doc(body: CheckBatch, who: Who) -> dict[str, Any]:
        """Many subject × purpose checks in one call (at most 1000), answers in order."""
        pairs = [(c.subject, c.purpose) for c in body.checks]  # pragma: no cover
        return {"results": [d.as_dict() for d in consent.check_many(ctx, who, pairs)]}

    app.router.routes.insert(0, Route(CHECK_PATH, _fast_check, methods=["GET", "POST"]))


async def _fast_check(request: RawRequest) -> Response:
    """GET one decision, or POST a batch: answered from memory when the cache is warm."""
    ctx: Context = request.app.state.runtime.ctx
    try:
        who = await _authenticate(request)
        who.require("subjects.read")
        if request.method == "GET":
            subject = request.query_params.get("subject")
            purpose = request.query_params.get("purpose")
            if not subject or not purpose:
                raise InvalidInput("give ?subject=ID&purpose=KEY")
            pairs = [(subject, purpose)]
        else:
            pairs = _parse_batch(await request.body())
        cache = ctx.decisions
        decisions: list[Decision] | None = None
        if cache is not None:
            decisions = cache.peek_many(who.tenant_id, pairs)
        if decisions is None:
            decisions = await run_in_threadpool(consent.check_many, ctx, who, pairs)
    except TutelaError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return JSONResponse(
            api_errors.envelope(exc.code, exc.message, exc.details),
            api_errors.status_of(exc),
            headers=headers,
        )
    if request.method == "GET":
        return _json(_ANSWERS[decisions[0].allowed, decisions[0].reason])
    body = b",".join(_ANSWERS[d.allowed, d.reason] for d in decisions)
    return _json(b'{"results":[' + body + b"]}")


async def _authenticate(request: RawRequest) -> Principal:
    cache = request.app.state.auth_cache
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else ""
    token = token or request.headers.get("x-api-key", "")
    if not token:
        raise Unauthenticated("send an API key as `Authorization: Bearer tut_…`")
    found: Principal | None = cache.get(token)
    if found is None:
        found = await run_in_threadpool(tenants.authenticate, request.app.state.runtime.ctx, token)
        cache.put(token, found)
    return found


class FastPath:
    """An ASGI front that sends consent checks straight to their route, past the framework's
    middleware stack; everything else goes to the application unchanged."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state = app.state
        self._next_look = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and time.monotonic() >= self._next_look:
            await self._follow_policy()
        if scope["type"] == "http" and scope["path"] == CHECK_PATH:
            scope["app"] = self.app
            try:
                response = await _fast_check(RawRequest(scope, receive))
            except Exception as exc:
                api_errors.log.error("unexpected %s in a consent check", type(exc).__name__)
                response = JSONResponse(
                    api_errors.envelope("internal_error", "an unexpected error occurred"), 500
                )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _follow_policy(self) -> None:
        """A policy version the worker put in force reaches this process within
        ``POLICY_LOOK_SECONDS`` of its next request (notice, rules, datasets)."""
        self._next_look = time.monotonic() + POLICY_LOOK_SECONDS
        reload = self.state.runtime.ctx.reload_declarations
        if reload is not None:
            await run_in_threadpool(reload)


#: how often a serving process looks whether another policy version came into force
POLICY_LOOK_SECONDS = 5.0


class _Answers(dict[tuple[bool, str], bytes]):
    """Pre-encoded JSON answers: a decision is one of a few dozen byte strings."""

    def __missing__(self, key: tuple[bool, str]) -> bytes:
        value = json.dumps({"allowed": key[0], "reason": key[1]}, separators=(",", ":")).encode()
        self[key] = value
        return value


_ANSWERS = _Answers()


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _parse_batch(raw: bytes) -> list[tuple[str, str]]:
    try:
        data = json.loads(raw)
        items = data["checks"]
        if not isinstance(items, list):
            raise TypeError
        pairs = [(str(item["subject"]), str(item["purpose"])) for item in items]
    except (ValueError, TypeError, KeyError, RecursionError):
        raise InvalidInput(
            'the body must be {"checks": [{"subject": ID, "purpose": KEY}, …]}'
        ) from None
    if len(pairs) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} checks per call; split the batch")
    return pairs
