"""Data-subject requests over HTTP, the public download of access packages, and the signed
callbacks of application endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tutela.domain.errors import InvalidInput, NotFound
from tutela.entrypoints.api_auth import Who
from tutela.entrypoints.api_errors import envelope
from tutela.services import hook_messages, hooks, packages, request_runner, requests
from tutela.services.context import Context


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewRequest(_Body):
    type: Literal[
        "access",
        "portability",
        "rectification",
        "erasure",
        "restriction",
        "lift_restriction",
        "objection",
        "withdraw_consent",
        "account_closure",
    ]
    email: str | None = None
    phone: str | None = None
    jurisdiction: str | None = None
    language: str | None = None
    details: dict[str, Any] | None = Field(
        None,
        description='rectification: {"fields": {category: value}}; objection: '
        '{"purpose": key or "direct_marketing"}',
    )
    verified_by: str | None = Field(None, description="Identity verified already (dpo scope).")


class Verify(_Body):
    code: str | None = None
    method: str | None = Field(None, description="Operator verification method (dpo scope).")


class Reason(_Body):
    reason: str


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx

    @app.post("/v1/requests", status_code=201, tags=["requests"])
    def create(body: NewRequest, who: Who) -> dict[str, Any]:
        return requests.create(
            ctx,
            who,
            body.type,
            email=body.email,
            phone=body.phone,
            jurisdiction=body.jurisdiction,
            language=body.language,
            details=body.details,
            verified_by=body.verified_by,
        )

    @app.get("/v1/requests", tags=["requests"])
    def queue(
        who: Who,
        state: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        return requests.queue(ctx, who, states=state, limit=limit)

    @app.get("/v1/requests/{request_id}", tags=["requests"])
    def show(request_id: str, who: Who) -> dict[str, Any]:
        return requests.show(ctx, who, request_id)

    @app.post("/v1/requests/{request_id}/code", tags=["requests"])
    def send_code(request_id: str, who: Who, request: Request) -> dict[str, Any]:
        return requests.send_code(ctx, who, request_id, client=_client(request))

    @app.post("/v1/requests/{request_id}/verify", tags=["requests"])
    def verify(request_id: str, body: Verify, who: Who) -> dict[str, Any]:
        if (body.code is None) == (body.method is None):
            raise InvalidInput("give exactly one of code or method")
        if body.code is not None:
            return requests.verify_code(ctx, who, request_id, body.code)
        assert body.method is not None
        return requests.mark_verified(ctx, who, request_id, body.method)

    @app.post("/v1/requests/{request_id}/approve", tags=["requests"])
    def approve(request_id: str, who: Who) -> dict[str, Any]:
        return requests.approve(ctx, who, request_id)

    @app.post("/v1/requests/{request_id}/reject", tags=["requests"])
    def reject(request_id: str, body: Reason, who: Who) -> dict[str, Any]:
        return requests.reject(ctx, who, request_id, body.reason)

    @app.post("/v1/requests/{request_id}/extend", tags=["requests"])
    def extend(request_id: str, body: Reason, who: Who) -> dict[str, Any]:
        return requests.extend(ctx, who, request_id, body.reason)

    @app.post("/v1/requests/{request_id}/cancel", tags=["requests"])
    def cancel(request_id: str, who: Who) -> dict[str, Any]:
        return requests.cancel(ctx, who, request_id)

    @app.post("/v1/requests/{request_id}/run", tags=["requests"])
    def run(request_id: str, who: Who) -> dict[str, Any]:
        return request_runner.run(ctx, who, request_id)

    @app.post(
        "/v1/requests/{request_id}/callbacks/{dataset}",
        tags=["requests"],
        response_model=None,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def callback(request_id: str, dataset: str, request: Request) -> Any:
        """An application endpoint posts its result, signed with its shared secret (no API
        key: the `Tutela-Signature` header is the credential; see docs/connectors.md)."""
        body = await _capped_body(request, hook_messages.MAX_CALLBACK_BYTES)
        if body is None:
            limit = hook_messages.MAX_CALLBACK_BYTES // (1024 * 1024)
            return JSONResponse(
                envelope("too_large", f"a callback may hold at most {limit} MiB"), 413
            )
        signature = request.headers.get(hook_messages.SIGNATURE_HEADER)
        return await run_in_threadpool(hooks.receive, ctx, request_id, dataset, body, signature)

    @app.get("/v1/requests/{request_id}/package", tags=["requests"])
    def package(request_id: str, who: Who) -> Response:
        package_id = requests.package_of(ctx, who, request_id)
        content = packages.fetch(ctx, who.tenant_id, package_id)
        return _zip(content, request_id)

    @app.get("/v1/requests/{request_id}/link", tags=["requests"])
    def link(request_id: str, who: Who) -> dict[str, str]:
        """The signed, expiring download link to hand to the subject."""
        return {"link": requests.download_link(ctx, who, request_id)}

    @app.get("/v1/packages/{tenant}/{package_id}", tags=["requests"], response_model=None)
    def download(
        request: Request, tenant: str, package_id: str, expires: int = 0, token: str = ""
    ) -> Response:
        """The subject's download link: a readable page in the reader's language, not a raw
        error, when it expired."""
        try:
            content = packages.fetch(ctx, tenant, package_id, expires=expires, token=token)
        except (InvalidInput, NotFound) as exc:
            from tutela.entrypoints.web_privacy_requests import expired_link_page

            return expired_link_page(request, tenant, exc)
        return _zip(content, package_id)


async def _capped_body(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it is larger than ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _zip(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="personal-data-{name[:8]}.zip"',
            "Cache-Control": "no-store",
        },
    )
