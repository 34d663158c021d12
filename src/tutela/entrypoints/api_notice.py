"""The privacy notice over HTTP: public, in the reader's language, as HTML, Markdown or JSON.

``GET /v1/notice`` needs no API key (the notice is public). The language is ``?lang=`` or
else negotiated from ``Accept-Language`` among the declared languages Tutela writes; when
none of the wished languages is available, the notice is in the declared default language
and ``X-Tutela-Language-Fallback`` names what was asked for. The format is ``?format=`` or
else taken from ``Accept`` (``text/markdown``, ``application/json``), HTML by default.

Rendering (Jinja2, Babel) is imported on the first request and each notice is kept until
the declarations in force change.
"""

from __future__ import annotations

from threading import Lock
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from tutela.domain.errors import NotFound
from tutela.services.context import Context

CACHE_CONTROL = "public, max-age=300"
FALLBACK_HEADER = "X-Tutela-Language-Fallback"
_MAX_CACHED = 64
_ACCEPTED = (("text/markdown", "md"), ("application/json", "json"), ("text/html", "html"))


def format_from_accept(accept: str | None) -> str:
    """``md`` or ``json`` when ``Accept`` asks for one of them before HTML; else ``html``."""
    for part in (accept or "").split(","):
        media = part.split(";", maxsplit=1)[0].strip().lower()
        for wanted, fmt in _ACCEPTED:
            if media == wanted:
                return fmt
    return "html"


class _Cache:
    """Rendered notices by (declarations, language, format); cleared when full."""

    def __init__(self) -> None:
        self._items: dict[tuple[Any, ...], str] = {}
        self._lock = Lock()

    def get(self, key: tuple[Any, ...]) -> str | None:
        return self._items.get(key)

    def put(self, key: tuple[Any, ...], text: str) -> None:
        with self._lock:
            if len(self._items) >= _MAX_CACHED:
                self._items.clear()
            self._items[key] = text


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx
    cache = _Cache()

    @app.get(
        "/v1/notice",
        tags=["notice"],
        response_class=Response,
        responses={
            200: {
                "description": "The privacy notice.",
                "content": {"text/html": {}, "text/markdown": {}, "application/json": {}},
            }
        },
    )
    def notice(
        request: Request,
        fmt: Annotated[
            Literal["html", "md", "json"] | None,
            Query(alias="format", description="html, md or json (default: by Accept, html)."),
        ] = None,
        lang: Annotated[
            str | None,
            Query(max_length=35, description="Language (default: by Accept-Language)."),
        ] = None,
    ) -> Response:
        """The privacy notice in the reader's language (public: no API key)."""
        from tutela.declarations import Declarations
        from tutela.notices import MEDIA_TYPES, build_facts, choose_language, render

        declarations = ctx.declarations
        if not isinstance(declarations, Declarations):
            raise NotFound(
                "no declarations are loaded, so there is no notice yet; load them with "
                "`tutela init --declarations FILE`"
            )
        kind = fmt or format_from_accept(request.headers.get("accept"))
        wanted = [lang] if lang else request.headers.get("accept-language")
        language, fallback = choose_language(declarations, wanted)
        base_url = ctx.public_url
        key = (id(declarations), ctx.declarations_version, base_url, language, kind)
        text = cache.get(key)
        if text is None:
            text = render(build_facts(declarations, base_url=base_url), language, kind)
            cache.put(key, text)
        headers = {
            "Content-Language": language,
            "Cache-Control": CACHE_CONTROL,
            "Vary": "Accept, Accept-Language",
        }
        if fallback:
            asked = lang or request.headers.get("accept-language", "")
            headers[FALLBACK_HEADER] = asked.encode("ascii", "replace").decode()[:200]
        return Response(text, media_type=MEDIA_TYPES[kind], headers=headers)
