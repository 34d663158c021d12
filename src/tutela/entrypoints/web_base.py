"""The foundation of Tutela's web pages (privacy center, admin console): server-rendered
Jinja2 templates in the reader's language, sessions in cookies, CSRF, flash messages, forms,
readable error pages and the shared static files.

A page family (a *realm*) builds a :class:`Visit` for each request with :func:`begin`; the
visit knows the language, the bearer token in the cookie (an anonymous one until sign-in),
the CSRF token of that cookie and the flash messages to show. Pages are rendered with
:meth:`Visit.page`, POST handlers check :meth:`Visit.check_csrf` first and answer with
:meth:`Visit.redirect` (303, POST-redirect-GET). :meth:`Visit.finish` puts cookies and
security headers on every response. Nothing here needs JavaScript; ``web.js`` only
enhances.

Forms are ``application/x-www-form-urlencoded`` (read by :func:`form_data`, bounded); no
page takes files.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from tutela import i18n
from tutela.domain import errors
from tutela.domain.errors import Forbidden, InvalidInput, TutelaError
from tutela.entrypoints.api_errors import status_of
from tutela.services import sessions
from tutela.services.context import Context

DOMAIN = "web"
LANGUAGE_COOKIE = "tutela_lang"
FLASH_COOKIE = "tutela_flash"
MAX_FORM_BYTES = 64 * 1024
YEAR_SECONDS = 365 * 86400
STATIC: dict[str, str] = {
    "web.css": "text/css; charset=utf-8",
    "web.js": "text/javascript; charset=utf-8",
}
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


# -- templates and words ------------------------------------------------------------------


def N_(message: str) -> str:
    """Mark a message for the catalogs where it is defined; translate it where it is shown."""
    return message


def _date(value: dt.date | dt.datetime | int | None, language: str) -> str:
    from babel.dates import format_date

    if value is None:
        return ""
    if isinstance(value, int):  # microseconds since the epoch
        value = dt.datetime.fromtimestamp(value / 1_000_000, tz=dt.UTC)
    day = value.date() if isinstance(value, dt.datetime) else value
    return str(format_date(day, format="long", locale=i18n.locale(language)))


def _datetime(value: int | None, language: str) -> str:
    from babel.dates import format_datetime

    if value is None:
        return ""
    moment = dt.datetime.fromtimestamp(value / 1_000_000, tz=dt.UTC)
    return str(
        format_datetime(moment, format="medium", tzinfo=dt.UTC, locale=i18n.locale(language))
        + " UTC"
    )


@lru_cache(maxsize=16)
def environment(language: str) -> Environment:
    """The templates (``tutela/templates/web``) with the ``web`` catalog of one language."""
    env = Environment(
        loader=PackageLoader("tutela", "templates/web"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True  # as the catalogs are extracted
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(DOMAIN, language), newstyle=True
    )
    env.filters["date"] = lambda value: _date(value, language)
    env.filters["datetime"] = lambda value: _datetime(value, language)
    return env


def gettext(language: str, message: str, **values: object) -> str:
    """A message of the ``web`` catalog in ``language`` (``%(name)s`` placeholders)."""
    text = i18n.translations(DOMAIN, language).gettext(message)
    return text % values if values else text


def language_name(tag: str) -> str:
    """A language by its own name: ``de`` → ``Deutsch``."""
    own = i18n.locale(tag)
    name = own.get_display_name(own) or tag
    return name[:1].upper() + name[1:]


def choose_language(request: Request, available: tuple[str, ...], default: str) -> str:
    """The language cookie if it names an available language, else ``Accept-Language``."""
    wanted = request.cookies.get(LANGUAGE_COOKIE)
    if wanted in available:
        return str(wanted)
    language, _fallback = i18n.negotiate(request.headers.get("accept-language"), available, default)
    return language


def page_languages(declared: Iterable[str]) -> tuple[str, ...]:
    """The declared languages the pages are written in (English when there is none)."""
    found = tuple(t for t in declared if i18n.base_language(t) in i18n.LANGUAGES)
    return found or ("en",)


# -- forms ----------------------------------------------------------------------------------


class Form(dict[str, list[str]]):
    """The fields of a submitted form; every value is a string."""

    def one(self, name: str, default: str = "") -> str:
        values = self.get(name)
        return values[-1] if values else default

    def many(self, name: str) -> list[str]:
        return list(self.get(name, []))


async def form_data(request: Request) -> Form:
    """The form of a POST (urlencoded, at most 64 KiB), for routes as a dependency."""
    kind = request.headers.get("content-type", "").split(";", maxsplit=1)[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise InvalidInput("the form is too large", details={"reason": "too_large"})
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidInput("the form is too large", details={"reason": "too_large"})
    form = Form()
    if kind != "application/x-www-form-urlencoded":
        return form
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(name, []).append(value)
    return form


# -- the visit ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CookieSpec:
    """Where a realm keeps its bearer token."""

    name: str
    path: str
    secure: bool
    max_age: int | None = None  # None: a browser-session cookie


@dataclass
class Visit:
    """One request to a page of a realm: language, token, CSRF and flash messages."""

    request: Request
    ctx: Context
    cookie: CookieSpec
    language: str
    languages: tuple[str, ...]
    token: str
    fresh: bool = False  # the token cookie must be (re)set
    flashes: list[dict[str, str]] = field(default_factory=list)
    consumed: bool = False  # flash messages were read from the cookie
    pending_flashes: list[dict[str, str]] = field(default_factory=list)
    clear_token: bool = False

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.ctx, self.token)

    def _(self, message: str, **values: object) -> str:
        return gettext(self.language, message, **values)

    def check_csrf(self, form: Form) -> None:
        """Refuse a form whose CSRF token does not belong to this browser's cookie."""
        if not self.fresh and sessions.csrf_valid(self.ctx, self.token, form.one("csrf")):
            return
        raise Forbidden(
            "the form's security token does not match this browser's session cookie "
            "(the page may be old, or cookies are blocked); reload the page and send the "
            "form again",
            details={"reason": "csrf"},
        )

    def rotate(self, token: str | None) -> None:
        """Use a new bearer token from now on (sign-in), or drop it (sign-out)."""
        if token is None:
            self.token = sessions.new_token()
            self.clear_token = True
        else:
            self.token = token
        self.fresh = True

    def flash(self, text: str, level: str = "success") -> None:
        """A message shown once, on the next page (``success``, ``info`` or ``error``)."""
        self.pending_flashes.append({"level": level, "text": text})

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        body = (
            environment(self.language)
            .get_template(template)
            .render(
                lang=self.language,
                languages=[(t, language_name(t)) for t in self.languages],
                csrf=self.csrf,
                flashes=self.flashes,
                path=self.request.url.path,
                **context,
            )
        )
        return self.finish(HTMLResponse(body, status_code=status))

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        """Cookies and security headers on a response of this visit."""
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["Vary"] = "Cookie, Accept-Language"
        if self.fresh:
            response.set_cookie(
                self.cookie.name,
                self.token,
                max_age=self.cookie.max_age,
                path=self.cookie.path,
                secure=self.cookie.secure,
                httponly=True,
                samesite="lax",
            )
        if self.pending_flashes:
            response.set_cookie(
                FLASH_COOKIE,
                _sign_flash(self.ctx, self.token, self.pending_flashes),
                path=self.cookie.path,
                secure=self.cookie.secure,
                httponly=True,
                samesite="lax",
            )
        elif self.consumed:
            response.delete_cookie(
                FLASH_COOKIE, path=self.cookie.path, secure=self.cookie.secure, httponly=True
            )
        return response


def begin(
    request: Request,
    ctx: Context,
    cookie: CookieSpec,
    languages: tuple[str, ...],
    default_language: str,
) -> Visit:
    """The visit of one request: an anonymous token is issued when the cookie has none."""
    token = request.cookies.get(cookie.name) or ""
    fresh = not (20 <= len(token) <= 100)
    if fresh:
        token = sessions.new_token()
    visit = Visit(
        request,
        ctx,
        cookie,
        choose_language(request, languages, default_language),
        languages,
        token,
        fresh,
    )
    raw = request.cookies.get(FLASH_COOKIE)
    if raw:
        visit.consumed = True
        visit.flashes = _read_flash(ctx, token, raw)
    return visit


def secure_cookies(ctx: Context) -> bool:
    """Cookies are Secure when Tutela is reached over https (its public URL says so)."""
    return ctx.public_url.lower().startswith("https://")


def _flash_mac(ctx: Context, token: str, payload: str) -> str:
    key = ctx.crypto.index("_web", "flash", token)
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _sign_flash(ctx: Context, token: str, items: list[dict[str, str]]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(items[-5:]).encode()).decode().rstrip("=")
    return f"{payload}.{_flash_mac(ctx, token, payload)}"


def _read_flash(ctx: Context, token: str, raw: str) -> list[dict[str, str]]:
    payload, _, mac = raw.partition(".")
    if not hmac.compare_digest(mac.encode(), _flash_mac(ctx, token, payload).encode()):
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return []
    return [
        {"level": str(i.get("level", "info")), "text": str(i.get("text", ""))}
        for i in items
        if isinstance(i, dict)
    ]


# -- errors ---------------------------------------------------------------------------------

#: readable titles by error kind (the message says what, where and how to fix)
_TITLES: list[tuple[type[TutelaError], str]] = [
    (errors.InvalidInput, N_("Something in the form needs fixing")),
    (errors.NotFound, N_("Not found")),
    (errors.Conflict, N_("This cannot be done now")),
    (errors.Forbidden, N_("Not allowed")),
    (errors.Unauthenticated, N_("Please sign in")),
    (errors.SubjectErased, N_("Your data was erased")),
    (errors.ConfigurationError, N_("The service is not ready")),
    (errors.IntegrityError, N_("Stored data failed a check")),
]


def error_title(exc: TutelaError) -> str:
    return next((t for k, t in _TITLES if isinstance(exc, k)), N_("Something went wrong"))


def error_page(
    visit: Visit, exc: TutelaError, message: str | None = None, **context: Any
) -> Response:
    """A readable page for an error, with the status the API would give it."""
    return visit.page(
        "error.html.j2",
        status=status_of(exc),
        title=visit._(error_title(exc)),
        message=message or sentence(exc.message),
        **context,
    )


def sentence(text: str) -> str:
    """A service message as a sentence: capital first letter, full stop."""
    text = text.strip()
    if not text:
        return text
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


# -- static files and theme -----------------------------------------------------------------


@cache
def static_file(name: str) -> tuple[bytes, str]:
    body = files("tutela.entrypoints").joinpath(f"static/{name}").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def theme_css(accent: str | None, header: str | None) -> str:
    """The custom properties of a brand (colours checked for contrast by the declarations)."""
    from tutela.declarations.models import contrast

    lines = [":root {"]
    if accent:
        lines.append(f"  --accent: {accent};")
    if header:
        dark = contrast(header, "#000000") >= contrast(header, "#ffffff")
        text = "#000000" if dark else "#ffffff"
        lines.append(f"  --header-bg: {header};")
        lines.append(f"  --header-fg: {text};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def install_static(app: FastAPI) -> None:
    """``GET /web/static/{name}``: the pages' stylesheet and script (cached, with ETag)."""

    @app.get("/web/static/{name}", tags=["web"], response_class=Response)
    def static(name: str, request: Request) -> Response:
        """The stylesheet (``web.css``) and script (``web.js``) of the web pages."""
        media = STATIC.get(name)
        if media is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        body, etag = static_file(name)
        headers = {
            "ETag": etag,
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media, headers=headers)
