"""The cookie banner over HTTP: its script, its content, visitors' choices, and linking.

The three ``/consent/{tenant}/…`` routes are public (no API key): the banner script runs on
the company's own website, so they answer any origin (CORS ``*``, no credentials) and carry
those headers on errors too. Linking a visitor to a subject is an application call with an
API key.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tutela.domain.errors import InvalidInput, TutelaError
from tutela.entrypoints import api_errors
from tutela.entrypoints.api_auth import Who
from tutela.entrypoints.api_consent import gpc_requested
from tutela.services import consent, visitors
from tutela.services.context import Context

MAX_BODY = 16 * 1024
SCRIPT_CACHE = "public, max-age=86400, stale-while-revalidate=604800"
BANNER_CACHE = "public, max-age=300"
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}

#: the banner's fixed texts; purpose descriptions come from the declarations as written
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Cookies and your privacy",
        "intro": "{organization} uses cookies and similar technologies. The strictly necessary "
        "ones keep the site working; the others are used only if you allow them. You can "
        "change your choice at any time.",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "save": "Save choices",
        "always_on": "Strictly necessary (always on)",
        "gpc_applied": "Your browser's Global Privacy Control signal was applied",
        "policy": "Privacy policy",
        "cookies": "Cookies",
        "expires": "Expires",
        "session": "end of session",
        "first": "first party",
        "third": "third party",
        "strictly_necessary": "Strictly necessary",
        "functional": "Functional",
        "analytics": "Analytics",
        "marketing": "Marketing",
    },
    "de": {
        "title": "Cookies und Ihre Privatsphäre",
        "intro": "{organization} verwendet Cookies und ähnliche Technologien. Die unbedingt "
        "erforderlichen halten die Website in Betrieb; alle anderen werden nur verwendet, "
        "wenn Sie es erlauben. Sie können Ihre Auswahl jederzeit ändern.",
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "save": "Auswahl speichern",
        "always_on": "Unbedingt erforderlich (immer aktiv)",
        "gpc_applied": "Das Global-Privacy-Control-Signal Ihres Browsers wurde angewendet",
        "policy": "Datenschutzerklärung",
        "cookies": "Cookies",
        "expires": "Speicherdauer",
        "session": "bis zum Ende der Sitzung",
        "first": "Erstanbieter",
        "third": "Drittanbieter",
        "strictly_necessary": "Unbedingt erforderlich",
        "functional": "Funktional",
        "analytics": "Statistik",
        "marketing": "Marketing",
    },
    "fr": {
        "title": "Les cookies et votre vie privée",
        "intro": "{organization} utilise des cookies et des technologies similaires. Ceux qui "
        "sont strictement nécessaires font fonctionner le site ; les autres ne sont utilisés "
        "que si vous les autorisez. Vous pouvez modifier votre choix à tout moment.",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "save": "Enregistrer mes choix",
        "always_on": "Strictement nécessaires (toujours actifs)",
        "gpc_applied": "Le signal Global Privacy Control de votre navigateur a été appliqué",
        "policy": "Politique de confidentialité",
        "cookies": "Cookies",
        "expires": "Durée",
        "session": "fin de la session",
        "first": "propriétaire",
        "third": "tiers",
        "strictly_necessary": "Strictement nécessaires",
        "functional": "Fonctionnels",
        "analytics": "Mesure d'audience",
        "marketing": "Marketing",
    },
    "es": {
        "title": "Las cookies y su privacidad",
        "intro": "{organization} utiliza cookies y tecnologías similares. Las estrictamente "
        "necesarias mantienen el sitio en funcionamiento; las demás solo se usan si usted lo "
        "permite. Puede cambiar su elección en cualquier momento.",
        "accept_all": "Aceptar todas",
        "reject_all": "Rechazar todas",
        "save": "Guardar selección",
        "always_on": "Estrictamente necesarias (siempre activas)",
        "gpc_applied": "Se ha aplicado la señal Global Privacy Control de su navegador",
        "policy": "Política de privacidad",
        "cookies": "Cookies",
        "expires": "Duración",
        "session": "fin de la sesión",
        "first": "propia",
        "third": "de terceros",
        "strictly_necessary": "Estrictamente necesarias",
        "functional": "Funcionales",
        "analytics": "Analíticas",
        "marketing": "Marketing",
    },
    "ru": {
        "title": "Файлы cookie и ваша конфиденциальность",
        "intro": "{organization} использует файлы cookie и похожие технологии. Строго "
        "необходимые обеспечивают работу сайта; остальные используются только с вашего "
        "разрешения. Вы можете изменить свой выбор в любое время.",
        "accept_all": "Принять все",
        "reject_all": "Отклонить все",
        "save": "Сохранить выбор",
        "always_on": "Строго необходимые (всегда включены)",
        "gpc_applied": "Применён сигнал Global Privacy Control вашего браузера",
        "policy": "Политика конфиденциальности",
        "cookies": "Файлы cookie",
        "expires": "Срок хранения",
        "session": "до конца сеанса",
        "first": "собственный",
        "third": "сторонний",
        "strictly_necessary": "Строго необходимые",
        "functional": "Функциональные",
        "analytics": "Аналитические",
        "marketing": "Маркетинговые",
    },
    "cs": {
        "title": "Cookies a vaše soukromí",
        "intro": "{organization} používá cookies a podobné technologie. Nezbytně nutné "
        "zajišťují fungování webu; ostatní používáme jen s vaším souhlasem. Svou volbu "
        "můžete kdykoli změnit.",
        "accept_all": "Přijmout vše",
        "reject_all": "Odmítnout vše",
        "save": "Uložit volbu",
        "always_on": "Nezbytně nutné (vždy zapnuto)",
        "gpc_applied": "Byl použit signál Global Privacy Control vašeho prohlížeče",
        "policy": "Zásady ochrany osobních údajů",
        "cookies": "Cookies",
        "expires": "Platnost",
        "session": "do konce relace",
        "first": "první strana",
        "third": "třetí strana",
        "strictly_necessary": "Nezbytně nutné",
        "functional": "Funkční",
        "analytics": "Analytické",
        "marketing": "Marketingové",
    },
    "sq": {
        "title": "Cookies dhe privatësia juaj",
        "intro": "{organization} përdor cookies dhe teknologji të ngjashme. Ato rreptësisht të "
        "nevojshmet e mbajnë faqen në punë; të tjerat përdoren vetëm nëse i lejoni. Mund ta "
        "ndryshoni zgjedhjen tuaj në çdo kohë.",
        "accept_all": "Prano të gjitha",
        "reject_all": "Refuzo të gjitha",
        "save": "Ruaj zgjedhjet",
        "always_on": "Rreptësisht të nevojshme (gjithmonë aktive)",
        "gpc_applied": "U zbatua sinjali Global Privacy Control i shfletuesit tuaj",
        "policy": "Politika e privatësisë",
        "cookies": "Cookies",
        "expires": "Skadon",
        "session": "në fund të seancës",
        "first": "palë e parë",
        "third": "palë e tretë",
        "strictly_necessary": "Rreptësisht të nevojshme",
        "functional": "Funksionale",
        "analytics": "Analitike",
        "marketing": "Marketing",
    },
    "zh": {
        "title": "Cookie 与您的隐私",
        "intro": "{organization} 使用 Cookie 及类似技术。绝对必要的 Cookie 用于维持网站运行；"
        "其他 Cookie 仅在您允许后使用。您可以随时更改您的选择。",
        "accept_all": "全部接受",
        "reject_all": "全部拒绝",
        "save": "保存选择",
        "always_on": "绝对必要（始终启用）",
        "gpc_applied": "已应用您浏览器的全球隐私控制（GPC）信号",
        "policy": "隐私政策",
        "cookies": "Cookie",
        "expires": "有效期",
        "session": "会话结束时",
        "first": "第一方",
        "third": "第三方",
        "strictly_necessary": "绝对必要",
        "functional": "功能",
        "analytics": "分析",
        "marketing": "营销",
    },
}


def texts_for(language: str, organization: str) -> dict[str, str]:
    """The fixed texts in ``language`` (by its primary subtag), else in English."""
    found = TEXTS.get(language.split("-", maxsplit=1)[0].lower(), TEXTS["en"])
    return {k: v.replace("{organization}", organization) for k, v in found.items()}


def banner_document(
    ctx: Context, tenant: str, lang: str | None, accept_language: str | None
) -> dict[str, Any]:
    wanted = [lang, *visitors.parse_accept_language(accept_language)]
    document = visitors.banner(ctx, tenant, wanted)
    texts = texts_for(document["language"], document["organization"])
    document["categories"] = [
        {"key": c["key"], "name": texts.get(c["key"]) or c["key"].replace("_", " ").capitalize()}
        | c
        for c in document["categories"]
    ]
    return {**document, "texts": texts}


@cache
def script() -> tuple[bytes, str]:
    """The banner script and its entity tag (a hash of its content)."""
    body = files("tutela.entrypoints").joinpath("static/banner.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class VisitorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    visitor_id: str = Field(max_length=64, description="32 lowercase hex digits.")
    choices: dict[str, bool] = Field(
        default_factory=dict, max_length=200, description="purpose key -> granted"
    )
    language: str | None = Field(None, max_length=20, description="A declared language.")
    gpc: bool = Field(False, description="navigator.globalPrivacyControl was true.")
    method: str = Field("cookie_banner", description="cookie_banner or browser_signal")


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(max_length=64)


def _error(exc: TutelaError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        api_errors.envelope(exc.code, exc.message, exc.details),
        api_errors.status_of(exc),
        headers=headers,
    )


async def _bounded_body(request: Request) -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_visitor(raw: bytes) -> VisitorBody:
    try:
        return VisitorBody.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())) or "body", "problem": e["msg"]}
            for e in exc.errors(include_input=False)
        ]
        where = ", ".join(p["where"] for p in problems)
        raise InvalidInput(
            f"the request is not valid at: {where}", details={"problems": problems}
        ) from None


def install(app: FastAPI) -> None:
    ctx: Context = app.state.runtime.ctx

    @app.get("/consent/{tenant}/banner.json", tags=["banner"])
    def banner_json(tenant: str, request: Request, lang: str | None = None) -> Response:
        """What the banner shows: categories, purposes, cookies and texts (public)."""
        try:
            document = banner_document(ctx, tenant, lang, request.headers.get("accept-language"))
        except TutelaError as exc:
            return _error(exc, CORS)
        headers = {**CORS, "Cache-Control": BANNER_CACHE, "Vary": "Accept-Language"}
        return JSONResponse(document, headers=headers)

    @app.get("/consent/{tenant}/banner.js", tags=["banner"])
    def banner_js(tenant: str, request: Request) -> Response:
        """The banner script to embed with ``<script src=… defer>`` (public)."""
        try:
            visitors.require_tenant(ctx, tenant)
        except TutelaError as exc:
            return _error(exc)
        body, etag = script()
        headers = {
            "ETag": etag,
            "Cache-Control": SCRIPT_CACHE,
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)

    @app.post(
        "/consent/{tenant}/visitor",
        tags=["banner"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": VisitorBody.model_json_schema()}},
            }
        },
    )
    async def visitor_choice(tenant: str, request: Request) -> Response:
        """Store an anonymous visitor's banner choices (public)."""
        raw = await _bounded_body(request)
        if raw is None:
            message = f"the body is larger than {MAX_BODY // 1024} KiB"
            return JSONResponse(api_errors.envelope("too_large", message), 413, headers=CORS)
        try:
            body = _parse_visitor(raw)
            evidence = consent.Evidence(
                request.headers.get("user-agent"), request.client.host if request.client else None
            )
            stored = await run_in_threadpool(
                visitors.record_choice,
                ctx,
                tenant,
                body.visitor_id,
                body.choices,
                language=body.language,
                gpc=body.gpc or gpc_requested(request),
                method=body.method,
                evidence=evidence,
            )
        except TutelaError as exc:
            return _error(exc, CORS)
        return JSONResponse(stored, 201, headers=CORS)

    @app.options("/consent/{tenant}/visitor", include_in_schema=False)
    def visitor_preflight(tenant: str) -> Response:
        return Response(status_code=204, headers=PREFLIGHT)

    @app.post("/v1/consent/visitors/{visitor_id}/link", tags=["consent"])
    def link_visitor(visitor_id: str, body: LinkBody, who: Who) -> dict[str, Any]:
        """Replay a visitor's banner choices into a subject's consent ledger."""
        return visitors.link(ctx, who, visitor_id, body.subject_id)
