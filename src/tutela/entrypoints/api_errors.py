"""The one mapping from Tutela errors to HTTP, and the JSON error envelope.

Every error response is ``{"error": {"code", "message", "details"}}``. No stack trace, input
value or secret ever appears in a response; the log gets the exception type and frames only
(library messages may quote SQL parameters, so they are not logged).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tutela.domain import errors

log = logging.getLogger("tutela.api")

STATUS: list[tuple[type[errors.TutelaError], int]] = [
    (errors.DeclarationInvalid, 422),
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Forbidden, 403),
    (errors.Unauthenticated, 401),
    (errors.SubjectErased, 410),
    (errors.IntegrityError, 500),
    (errors.ConfigurationError, 503),
]


def status_of(exc: errors.TutelaError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.TutelaError)
    async def _tutela(_request: Request, exc: errors.TutelaError) -> JSONResponse:
        headers = (
            {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.Unauthenticated) else None
        )
        return JSONResponse(
            envelope(exc.code, exc.message, exc.details), status_of(exc), headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        where = ", ".join(p["where"] for p in problems)
        return JSONResponse(
            envelope(
                "invalid_input", f"the request is not valid at: {where}", {"problems": problems}
            ),
            422,
        )

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(envelope(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unexpected %s\n%s", type(exc).__name__, frames)
        return JSONResponse(
            envelope("internal_error", "an unexpected error occurred; it was logged"), 500
        )
