"""The ASGI applications the HTTP benchmarks serve, as uvicorn factories.

``tutela`` is the production application (``create_app`` on the data directory named by
``TUTELA_DATA_DIR``). ``bare`` is the floor a Python ASGI server sets: a plain Starlette
application whose check endpoints answer with constant JSON of the same shape and size,
without authentication, parsing or any look-up.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: the bare batch endpoint answers this many results, whatever the request holds
BARE_BATCH = 100

_ONE = b'{"allowed":true,"reason":"consent"}'
_MANY = b'{"results":[' + b",".join([_ONE] * BARE_BATCH) + b"]}"


def tutela() -> Any:
    from tutela.entrypoints.api import create_app

    return create_app()


async def _bare_check(request: Request) -> Response:
    if request.method == "GET":
        return Response(_ONE, media_type="application/json")
    await request.body()
    return Response(_MANY, media_type="application/json")


async def _health(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def bare() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/consent/check", _bare_check, methods=["GET", "POST"]),
            Route("/v1/health", _health),
        ]
    )
