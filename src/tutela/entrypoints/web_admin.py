"""The admin console, part one: the realm (language, session, pages in the reader's
language), sign-in with an API key, sign-out, the tenant choice of a platform key, the
overview and the console's stylesheet.

Every page is under ``/admin/``. The request queue is in ``web_admin_requests.py``;
incidents, policy versions, the audit check and consent counts in ``web_admin_pages.py``;
the session rules in ``services/console.py``; the foundation (CSRF, flash, cookies,
security headers) in ``web_base.py``. Nothing needs JavaScript: every form is a POST
answered with a 303 redirect.

The console's words are the gettext domain ``admin``: the templates in ``templates/admin``
and ``admin_texts.py``. These modules call ``_`` only with its constants, never with a
literal (the ``web`` domain's catalogs are extracted from every ``web_*.py`` module).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from tutela import i18n
from tutela.domain.access import Principal
from tutela.domain.errors import Conflict, Forbidden, NotFound, TutelaError, Unauthenticated
from tutela.entrypoints import admin_texts as texts
from tutela.entrypoints import web_base
from tutela.entrypoints.api_errors import status_of
from tutela.entrypoints.web_base import Form, Visit, form_data
from tutela.services import console, mail
from tutela.services.console import Officer
from tutela.services.context import Context

PREFIX = "/admin"
DOMAIN = "admin"
COOKIE_NAME = "tutela_admin"
STYLESHEET = "admin.css"
FormData = Annotated[Form, Depends(form_data)]
Handler = Callable[["Desk"], Response]


# -- words and templates ------------------------------------------------------------------------


class Words:
    """The ``admin`` catalog of a language, falling back to the shared ``web`` catalog (the
    layout's words)."""

    def __init__(self, language: str) -> None:
        self._own = i18n.translations(DOMAIN, language)
        self._shared = i18n.translations(web_base.DOMAIN, language)

    def gettext(self, message: str) -> str:
        text = self._own.gettext(message)
        return text if text != message else self._shared.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        text = self._own.ngettext(singular, plural, n)
        if text in (singular, plural):
            return self._shared.ngettext(singular, plural, n)
        return text


@lru_cache(maxsize=16)
def words(language: str) -> Words:
    return Words(language)


def _moment(value: int | str | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1_000_000, tz=dt.UTC)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_day(value: int | str | None, language: str) -> str:
    """A day in the reader's language: ``2026-04-30`` → ``30. April 2026``."""
    from babel.dates import format_date

    if isinstance(value, str) and len(value) == 10:
        day = dt.date.fromisoformat(value)
    else:
        moment = _moment(value)
        if moment is None:
            return ""
        day = moment.date()
    return str(format_date(day, format="long", locale=i18n.locale(language)))


def format_moment(value: int | str | None, language: str) -> str:
    """A moment in the reader's language, in UTC."""
    from babel.dates import format_datetime

    moment = _moment(value)
    if moment is None:
        return ""
    text = format_datetime(moment, format="medium", tzinfo=dt.UTC, locale=i18n.locale(language))
    return f"{text} UTC"


def format_number(value: int, language: str) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=i18n.locale(language)))


@lru_cache(maxsize=16)
def environment(language: str) -> Environment:
    """The console's templates (``templates/admin``, then the shared ``templates/web``)."""
    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader("tutela", "templates/admin"), PackageLoader("tutela", "templates/web")]
        ),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(words(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["day"] = lambda value: format_day(value, language)
    env.filters["moment"] = lambda value: format_moment(value, language)
    env.filters["number"] = lambda value: format_number(value, language)
    return env


# -- one request to the console -----------------------------------------------------------------


@dataclass
class Desk:
    """One request to the console: the visit (language, cookie, CSRF, flash) and the
    signed-in officer, if any."""

    ctx: Context
    visit: Visit
    officer: Officer | None = None
    background: list[Callable[[], None]] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.visit.language

    @property
    def who(self) -> Principal:
        if self.officer is None:
            raise Unauthenticated("sign in first", details={"reason": "signed_out"})
        return self.officer.principal

    def _(self, message: str, **values: object) -> str:
        text = words(self.language).gettext(message)
        return text % values if values else text

    def name(self, table: dict[str, str], key: str) -> str:
        """The translated name of a type, state or status (the key itself when unknown)."""
        return self._(table[key]) if key in table else key

    def nav(self) -> list[dict[str, str]]:
        if self.officer is None:
            return []
        who = self.officer.principal
        items: list[tuple[str, str, str | None]] = [(f"{PREFIX}/", texts.OVERVIEW, None)]
        items += [
            (f"{PREFIX}/requests", texts.REQUESTS, "requests.manage"),
            (f"{PREFIX}/incidents", texts.INCIDENTS, "incidents.read"),
            (f"{PREFIX}/policy", texts.POLICY, "policy.read"),
            (f"{PREFIX}/audit", texts.AUDIT, "audit.read"),
            (f"{PREFIX}/consent", texts.CONSENT, "consent.statistics"),
        ]
        found = [
            {"url": url, "label": self._(label)}
            for url, label, permission in items
            if permission is None or who.can(permission)
        ]
        if self.officer.may_choose_tenant:
            found.append({"url": f"{PREFIX}/tenants", "label": self._(texts.TENANTS)})
        return found

    def site(self) -> dict[str, Any]:
        return {
            "name": self._(texts.SITE_NAME),
            "logo": None,
            "theme": f"{PREFIX}/{STYLESHEET}",
            "home": f"{PREFIX}/",
            "nav": self.nav(),
            "language_action": f"{PREFIX}/language",
            "sign_out": f"{PREFIX}/sign-out" if self.officer is not None else None,
            "links": [],
            "contact": None,
        }

    def page(self, template: str, title: str, status: int = 200, **context: Any) -> Response:
        visit = self.visit
        body = (
            environment(self.language)
            .get_template(template)
            .render(
                lang=self.language,
                languages=[(t, web_base.language_name(t)) for t in visit.languages],
                csrf=visit.csrf,
                flashes=visit.flashes,
                path=visit.request.url.path,
                title=title,
                site=self.site(),
                officer=self.officer,
                prefix=PREFIX,
                **context,
            )
        )
        return visit.finish(HTMLResponse(body, status_code=status))

    def error(self, exc: TutelaError, message: str | None = None) -> Response:
        return self.page(
            "error.html.j2",
            self._(web_base.error_title(exc)),
            status=status_of(exc),
            message=message or readable(self, exc),
            back=(f"{PREFIX}/", self._(texts.BACK)),
        )

    def redirect(self, url: str) -> Response:
        return self.visit.redirect(url)

    def flash(self, message: str, level: str = "success", **values: object) -> None:
        self.visit.flash(self._(message, **values), level)


def readable(desk: Desk, exc: TutelaError) -> str:
    """The message of a known error in the reader's language; others as the service says."""
    reason = exc.details.get("reason")
    if reason == "csrf":
        return desk._(texts.CSRF)
    if reason == "bad_key":
        return desk._(texts.BAD_KEY)
    if reason == "scope":
        return desk._(texts.APP_KEY)
    if reason == "rate_limited":
        return desk._(texts.RATE_LIMITED)
    if reason == "identity_removed":
        return desk._(texts.IDENTITY_REMOVED)
    if isinstance(exc, Forbidden) and "permission" in exc.details:
        return desk._(texts.NOT_ALLOWED)
    if isinstance(exc, NotFound) and "request_id" in exc.details:
        return desk._(texts.REQUEST_NOT_FOUND)
    if isinstance(exc, NotFound) and "version" in exc.details:
        return desk._(texts.VERSION_NOT_FOUND)
    if isinstance(exc, Conflict) and "wanted" in exc.details:
        state = desk.name(texts.STATE_NAMES, str(exc.details.get("state")))
        return desk._(texts.WRONG_STATE, state=state)
    return web_base.sentence(exc.message)


def open_desk(request: Request) -> Desk:
    ctx: Context = request.app.state.runtime.ctx
    cookie = web_base.CookieSpec(COOKIE_NAME, f"{PREFIX}/", secure=web_base.secure_cookies(ctx))
    visit = web_base.begin(request, ctx, cookie, i18n.LANGUAGES, "en")
    desk = Desk(ctx, visit)
    if not visit.fresh:
        desk.officer = console.load(ctx, visit.token)
    return desk


def guarded(
    handler: Handler,
    request: Request,
    *,
    form: Form | None = None,
    permission: str | None = None,
    signed_in: bool = True,
    background: BackgroundTasks | None = None,
) -> Response:
    """Run a page: missing sign-in, bad CSRF tokens, missing scopes and service errors
    become readable pages; mail queued by the page is sent after the answer."""
    desk = open_desk(request)
    try:
        if form is not None:
            desk.visit.check_csrf(form)
        if signed_in and desk.officer is None:
            if request.method == "GET":
                desk.flash(texts.PLEASE_SIGN_IN, "info")
            return desk.redirect(f"{PREFIX}/sign-in")
        if permission is not None:
            desk.who.require(permission)
        response = handler(desk)
    except TutelaError as exc:
        return desk.error(exc)
    if background is not None:
        for task in desk.background:
            background.add_task(task)
    return response


def deliver_mail(desk: Desk) -> None:
    """Send what the page queued for the subjects once the answer is out."""
    ctx = desk.ctx
    mailer = ctx.mailer
    if mailer is None:
        return

    def send() -> None:
        mail.deliver(ctx, mailer)

    desk.background.append(send)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


# -- pages --------------------------------------------------------------------------------------


def _sign_in_form(desk: Desk, error: str | None = None, status: int = 200) -> Response:
    return desk.page("sign_in.html.j2", desk._(texts.SIGN_IN_TITLE), status=status, error=error)


def _overview(desk: Desk) -> Response:
    from tutela.services import incidents, request_board

    who = desk.who
    counts = None
    if who.can("requests.manage"):
        counts = request_board.board(desk.ctx, who, request_board.Filters(), limit=0).counts
    pressing = None
    if who.can("incidents.read"):
        listed = incidents.listing(desk.ctx, who)
        pressing = {
            "open": len(listed),
            "overdue": sum(1 for i in listed if any(c["status"] == "overdue" for c in i["clocks"])),
        }
    return desk.page(
        "home.html.j2",
        desk._(texts.OVERVIEW),
        counts=counts,
        incidents=pressing,
        can={p: who.can(p) for p in ("policy.read", "audit.read", "consent.statistics")},
    )


def _tenants(desk: Desk) -> Response:
    from tutela.services import tenants

    assert desk.officer is not None
    if not desk.officer.may_choose_tenant:
        raise Forbidden(
            "only a key with the platform scope may work in another tenant",
            details={"reason": "scope"},
        )
    home = Principal(desk.officer.home, desk.officer.key_scopes, desk.officer.actor)
    return desk.page(
        "tenants.html.j2", desk._(texts.TENANTS_TITLE), items=tenants.list_tenants(desk.ctx, home)
    )


def install(app: FastAPI) -> None:
    """The routes of sign-in, sign-out, language, tenant choice, overview and stylesheet."""

    @app.get(f"{PREFIX}/", tags=["admin console"], response_class=Response)
    def admin_home(request: Request) -> Response:
        """The overview: open, overdue and unverified requests, pressing incidents."""
        return guarded(_overview, request)

    @app.get(f"{PREFIX}/{STYLESHEET}", tags=["admin console"], response_class=Response)
    def admin_stylesheet(request: Request) -> Response:
        """The console's stylesheet (added to the shared one)."""
        body, etag = web_base.static_file(STYLESHEET)
        headers = {
            "ETag": etag,
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="text/css; charset=utf-8", headers=headers)

    @app.get(f"{PREFIX}/sign-in", tags=["admin console"], response_class=Response)
    def admin_sign_in_form(request: Request) -> Response:
        """The sign-in form: an API key with the dpo, admin or platform scope."""

        def show(desk: Desk) -> Response:
            if desk.officer is not None:
                return desk.redirect(f"{PREFIX}/")
            return _sign_in_form(desk)

        return guarded(show, request, signed_in=False)

    @app.post(f"{PREFIX}/sign-in", tags=["admin console"], response_class=Response)
    def admin_sign_in(request: Request, form: FormData) -> Response:
        """Exchange the key for a session (the key itself is not kept)."""

        def enter(desk: Desk) -> Response:
            try:
                token, officer = console.sign_in(desk.ctx, form.one("key"), client=_client(request))
            except (Unauthenticated, Forbidden) as exc:
                return _sign_in_form(desk, readable(desk, exc), status=status_of(exc))
            desk.visit.rotate(token)
            desk.officer = officer
            desk.flash(texts.SIGNED_IN)
            if not officer.key_scopes & {"dpo", "admin"}:
                return desk.redirect(f"{PREFIX}/tenants")
            return desk.redirect(f"{PREFIX}/")

        return guarded(enter, request, form=form, signed_in=False)

    @app.post(f"{PREFIX}/sign-out", tags=["admin console"], response_class=Response)
    def admin_sign_out(request: Request, form: FormData) -> Response:
        """End the session."""

        def leave(desk: Desk) -> Response:
            console.sign_out(desk.ctx, desk.visit.token)
            desk.visit.rotate(None)
            desk.officer = None
            desk.flash(texts.SIGNED_OUT)
            return desk.redirect(f"{PREFIX}/sign-in")

        return guarded(leave, request, form=form, signed_in=False)

    @app.post(f"{PREFIX}/language", tags=["admin console"], response_class=Response)
    def admin_language(request: Request, form: FormData) -> Response:
        """Switch the console's language (kept in a cookie)."""

        def switch(desk: Desk) -> Response:
            wanted = form.one("lang")
            target = form.one("next")
            if not target.startswith(f"{PREFIX}/") or "//" in target or "\\" in target:
                target = f"{PREFIX}/"
            response = desk.redirect(target)
            if wanted in desk.visit.languages:
                response.set_cookie(
                    web_base.LANGUAGE_COOKIE,
                    wanted,
                    max_age=web_base.YEAR_SECONDS,
                    path=f"{PREFIX}/",
                    secure=desk.visit.cookie.secure,
                    httponly=True,
                    samesite="lax",
                )
            return response

        return guarded(switch, request, form=form, signed_in=False)

    @app.get(f"{PREFIX}/tenants", tags=["admin console"], response_class=Response)
    def admin_tenants(request: Request) -> Response:
        """The tenants a platform key may work in."""
        return guarded(_tenants, request)

    @app.post(f"{PREFIX}/tenant", tags=["admin console"], response_class=Response)
    def admin_choose_tenant(request: Request, form: FormData) -> Response:
        """Work in another tenant (platform keys; audited in that tenant)."""

        def choose(desk: Desk) -> Response:
            assert desk.officer is not None
            tenant = form.one("tenant")
            desk.officer = console.choose_tenant(desk.ctx, desk.officer, tenant)
            desk.flash(texts.TENANT_CHOSEN, tenant=tenant)
            return desk.redirect(f"{PREFIX}/")

        return guarded(choose, request, form=form)


__all__ = ["PREFIX", "Desk", "deliver_mail", "guarded", "install", "open_desk", "readable"]
