"""The privacy center, part one: the realm (branding, language, session), the home page,
the notice, sign-in by one-time code, sign-out and the language switch.

Every page is under ``/privacy/{tenant}/``; ``/privacy/`` leads to the default tenant's. The
pages of what a signed-in subject sees and does are in ``web_privacy_data.py`` and
``web_privacy_requests.py``; the foundation (templates, CSRF, flash) in ``web_base.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from tutela.domain.errors import InvalidInput, NotFound, TutelaError
from tutela.entrypoints import web_base
from tutela.entrypoints.web_base import N_, Form, Visit, form_data
from tutela.services import mail, portal, sessions
from tutela.services.context import Context
from tutela.services.ports import WebSession
from tutela.services.requests import CODE_ATTEMPTS, CODE_MINUTES

PREFIX = "/privacy"
FormData = Annotated[Form, Depends(form_data)]


@dataclass(frozen=True)
class Urls:
    """The addresses of one tenant's privacy center."""

    base: str

    def __getattr__(self, name: str) -> str:
        paths = {
            "home": "/",
            "notice": "/notice",
            "sign_in": "/sign-in",
            "code": "/sign-in/code",
            "sign_out": "/sign-out",
            "language": "/language",
            "theme": "/theme.css",
            "data": "/data",
            "correct": "/correct",
            "download": "/download",
            "consent": "/consent",
            "guardian_ask": "/consent/guardian",
            "requests": "/requests",
            "delete": "/delete",
        }
        if name not in paths:
            raise AttributeError(name)
        return self.base + paths[name]

    def package(self, request_id: str) -> str:
        return f"{self.base}/download/{request_id}"

    def cancel(self, request_id: str) -> str:
        return f"{self.base}/requests/{request_id}/cancel"

    def guardian(self, token: str) -> str:
        return f"{self.base}/guardian/{token}"


@dataclass
class Center:
    """One request to a tenant's privacy center: the visit, the brand, the session."""

    ctx: Context
    visit: Visit
    tenant: str
    urls: Urls
    brand: dict[str, Any]
    session: WebSession | None = None
    background: list[tuple[Callable[..., Any], tuple[Any, ...]]] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.visit.language

    def _(self, message: str, **values: object) -> str:
        return self.visit._(message, **values)

    def site(self) -> dict[str, Any]:
        nav = []
        if self.session is not None:
            nav = [
                {"url": self.urls.data, "label": self._("My data")},
                {"url": self.urls.correct, "label": self._("Correct")},
                {"url": self.urls.download, "label": self._("Download")},
                {"url": self.urls.consent, "label": self._("Consent")},
                {"url": self.urls.requests, "label": self._("My requests")},
                {"url": self.urls.delete, "label": self._("Delete")},
            ]
        return {
            "name": self.brand["name"],
            "logo": self.brand["logo"],
            "theme": self.urls.theme if self.brand["themed"] else None,
            "home": self.urls.home,
            "nav": nav,
            "language_action": self.urls.language,
            "sign_out": self.urls.sign_out if self.session is not None else None,
            "links": self.brand["links"],
            "contact": self.brand["contact"],
        }

    def page(self, template: str, title: str, status: int = 200, **context: Any) -> Response:
        return self.visit.page(
            template,
            status=status,
            title=title,
            site=self.site(),
            urls=self.urls,
            organization=self.brand["organization"],
            **context,
        )

    def error(self, exc: TutelaError, message: str | None = None) -> Response:
        return web_base.error_page(
            self.visit,
            exc,
            message or readable(self, exc),
            site=self.site(),
            back=(self.urls.home, self._("Back to the privacy center")),
        )

    def redirect(self, url: str) -> Response:
        return self.visit.redirect(url)


def brand_of(ctx: Context, tenant: str) -> dict[str, Any]:
    """Name, logo, colours and links of a tenant's pages, from the declarations."""
    declarations = ctx.declarations
    organization = getattr(getattr(declarations, "organization", None), "name", "Tutela")
    contact = getattr(getattr(declarations, "organization", None), "contact", None)
    entry = next((t for t in getattr(declarations, "tenants", ()) if t.id == tenant), None)
    branding = getattr(entry, "branding", None)
    name = (branding.name if branding else None) or (entry.name if entry else organization)
    return {
        "organization": organization,
        "name": name,
        "logo": branding.logo_url if branding else None,
        "themed": bool(branding and (branding.accent or branding.header)),
        "accent": branding.accent if branding else None,
        "header": branding.header if branding else None,
        "links": [(link.label, link.url) for link in branding.links] if branding else [],
        "contact": str(contact) if contact else None,
    }


def languages_of(ctx: Context) -> tuple[tuple[str, ...], str]:
    declared = tuple(getattr(ctx.declarations, "languages", ()) or ("en",))
    available = web_base.page_languages(declared)
    return available, available[0]


def open_center(request: Request, tenant: str) -> Center:
    """The center for this request (NotFound for an unknown tenant)."""
    ctx: Context = request.app.state.runtime.ctx
    with ctx.uow(read_only=True) as uow:
        known = uow.tenants.get(tenant) is not None
    available, default = languages_of(ctx)
    base = f"{PREFIX}/{tenant}"
    cookie = web_base.CookieSpec("tutela_privacy", base + "/", secure=web_base.secure_cookies(ctx))
    visit = web_base.begin(request, ctx, cookie, available, default)
    center = Center(ctx, visit, tenant, Urls(base), brand_of(ctx, tenant))
    if not known:
        raise NotFound(f"there is no privacy center for {tenant!r}", details={"tenant": tenant})
    if not visit.fresh:
        center.session = sessions.load(ctx, sessions.PRIVACY, tenant, visit.token)
    return center


def guarded(
    handler: Callable[[Center], Response],
    request: Request,
    tenant: str,
    *,
    signed_in: bool = False,
    form: Form | None = None,
    background: BackgroundTasks | None = None,
) -> Response:
    """Run a page: unknown tenants, missing sign-in, bad CSRF tokens and service errors
    become readable pages; background work runs after the answer is sent."""
    try:
        center = open_center(request, tenant)
    except NotFound as exc:
        ctx: Context = request.app.state.runtime.ctx
        available, default = languages_of(ctx)
        cookie = web_base.CookieSpec("tutela_privacy", f"{PREFIX}/", secure=False)
        visit = web_base.begin(request, ctx, cookie, available, default)
        site: dict[str, Any] = {
            "name": "Tutela",
            "logo": None,
            "theme": None,
            "home": f"{PREFIX}/",
            "nav": [],
            "language_action": f"{PREFIX}/{tenant}/language",
            "sign_out": None,
            "links": [],
            "contact": None,
        }
        title = visit._("There is no privacy center at this address.")
        return web_base.error_page(visit, exc, title, site=site)
    try:
        if form is not None:
            center.visit.check_csrf(form)
        if signed_in and center.session is None:
            if request.method == "GET":
                center.visit.flash(center._("Please sign in to see this page."), "info")
            return center.redirect(center.urls.sign_in)
        response = handler(center)
    except TutelaError as exc:
        return center.error(exc)
    if background is not None:
        for task, args in center.background:
            background.add_task(task, *args)
    return response


# -- readable messages ----------------------------------------------------------------------


def readable(center: Center, exc: TutelaError) -> str:
    """The message of a known error in the page's language; others as the service says."""
    reason = exc.details.get("reason")
    _ = center._
    if reason == "rate_limited":
        return _("Too many codes were asked for. Please wait an hour and try again.")
    if reason == "wrong_code":
        left = int(exc.details.get("tries_left", 0))
        if left <= 0:
            return _("The code is not right, and that was the last try. Ask for a new code.")
        return _("The code is not right. Tries left: %(left)s.", left=left)
    if reason == "expired":
        return _("The code expired. Ask for a new one.")
    if reason == "no_pending":
        return _(
            "No sign-in is waiting for a code in this browser. Start again with your email address."
        )
    if reason == "bad_email":
        return _("This is not an email address. Write it as name@example.com.")
    if reason == "csrf":
        return _(
            "This form has expired or your browser blocks cookies for this site. Reload the "
            "page and send the form again."
        )
    if reason == "link_expired":
        return _(
            "This link is no longer valid: it was used already or it expired. Ask for a new one."
        )
    if reason in ("deleted", "package_expired"):
        return _("This download has expired. You can ask for a new copy of your data.")
    if reason == "guardian_consent_required":
        return _("You are under the minimum age: a parent or guardian must agree first.")
    return web_base.sentence(exc.message)


# -- mail -----------------------------------------------------------------------------------


def _sign_in_mail(center: Center) -> sessions.Compose:
    _ = center._
    organization = center.brand["organization"]

    def compose(code: str | None) -> tuple[str, str]:
        if code is None:
            return (
                _("Sign-in to the privacy center of %(organization)s", organization=organization),
                _(
                    "Someone asked to sign in to the privacy center of %(organization)s with "
                    "this address, but we hold no account for it. If it was you, write to "
                    "%(contact)s for any question about your data. Otherwise you can ignore "
                    "this message.",
                    organization=organization,
                    contact=center.brand["contact"] or organization,
                )
                + "\n",
            )
        return (
            _("Your sign-in code: %(code)s", code=code),
            _(
                "Your code to sign in to the privacy center of %(organization)s is %(code)s. "
                "It is valid for %(minutes)s minutes. If you did not ask for it, ignore this "
                "message: nobody can sign in without the code.",
                organization=organization,
                code=code,
                minutes=CODE_MINUTES,
            )
            + "\n",
        )

    return compose


def deliver_mail(ctx: Context) -> None:
    """Send queued mail after the answer (so a known address takes no longer to answer)."""
    if ctx.mailer is not None:
        mail.deliver(ctx, ctx.mailer)


# -- pages ----------------------------------------------------------------------------------


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _home(center: Center) -> Response:
    return center.page(
        "privacy/home.html.j2",
        center._("Privacy center"),
        signed_in=center.session is not None,
    )


def _notice(center: Center) -> Response:
    from tutela.declarations import Declarations
    from tutela.notices import build_facts, render

    declarations = center.ctx.declarations
    if not isinstance(declarations, Declarations):
        raise NotFound("no declarations are loaded, so there is no notice yet")
    html = _notice_cache(
        center.ctx, declarations, center.tenant, center.language, render, build_facts
    )
    return center.page("privacy/notice.html.j2", center._("Privacy notice"), notice=html)


_NOTICES: dict[tuple[Any, ...], Markup] = {}


def _notice_cache(
    ctx: Context, declarations: Any, tenant: str, language: str, render: Any, build_facts: Any
) -> Markup:
    """The notice's content (its ``<main>``) in a language, kept per declarations version;
    its rights link into this tenant's center."""
    key = (id(declarations), ctx.declarations_version, tenant, language)
    found = _NOTICES.get(key)
    if found is None:
        facts = build_facts(declarations, base_url=ctx.public_url, tenant=tenant)
        page = render(facts, language, "html")
        start = page.index(">", page.index("<main")) + 1
        body = page[start : page.rindex("</main>")]
        found = Markup(body)  # noqa: S704 - rendered by the notice's autoescaped template
        if len(_NOTICES) > 32:
            _NOTICES.clear()
        _NOTICES[key] = found
    return found


def install(app: FastAPI) -> None:
    """The routes of the sign-in, home, notice and language pages."""

    @app.get(f"{PREFIX}/", tags=["privacy center"], response_class=Response)
    def privacy_root(request: Request) -> Response:
        """The privacy center of the default tenant."""
        ctx: Context = request.app.state.runtime.ctx
        tenancy = getattr(ctx.declarations, "tenancy", None)
        default = getattr(tenancy, "default_tenant", "default")
        return RedirectResponse(f"{PREFIX}/{default}/", status_code=303)

    @app.get(f"{PREFIX}/{{tenant}}/", tags=["privacy center"], response_class=Response)
    def privacy_home(tenant: str, request: Request) -> Response:
        """The privacy center's start page."""
        return guarded(_home, request, tenant)

    @app.get(f"{PREFIX}/{{tenant}}/theme.css", tags=["privacy center"], response_class=Response)
    def privacy_theme(tenant: str, request: Request) -> Response:
        """The tenant's colours as CSS custom properties."""
        brand = brand_of(request.app.state.runtime.ctx, tenant)
        css = web_base.theme_css(brand["accent"], brand["header"])
        return Response(
            css,
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @app.get(f"{PREFIX}/{{tenant}}/notice", tags=["privacy center"], response_class=Response)
    def privacy_notice(tenant: str, request: Request) -> Response:
        """The privacy notice in the reader's language."""
        return guarded(_notice, request, tenant)

    @app.post(f"{PREFIX}/{{tenant}}/language", tags=["privacy center"], response_class=Response)
    def privacy_language(tenant: str, request: Request, form: FormData) -> Response:
        """Switch the pages' language (kept in a cookie; for a signed-in subject also the
        language Tutela writes to them in)."""

        def switch(center: Center) -> Response:
            wanted = form.one("lang")
            target = form.one("next")
            if not target.startswith(center.urls.base + "/") or "//" in target[1:]:
                target = center.urls.home
            if wanted not in center.visit.languages:
                return center.redirect(target)
            if center.session is not None:
                from tutela.services import vault

                vault.set_language(
                    center.ctx, portal.subject(center.session), str(center.session.account), wanted
                )
            center.visit.language = wanted
            response = center.redirect(target)
            response.set_cookie(
                web_base.LANGUAGE_COOKIE,
                wanted,
                max_age=web_base.YEAR_SECONDS,
                path=PREFIX + "/",
                secure=center.visit.cookie.secure,
                httponly=True,
                samesite="lax",
            )
            return response

        return guarded(switch, request, tenant, form=form)

    install_sign_in(app)


def install_sign_in(app: FastAPI) -> None:
    """The routes of sign-in and sign-out."""

    @app.get(f"{PREFIX}/{{tenant}}/sign-in", tags=["privacy center"], response_class=Response)
    def privacy_sign_in(tenant: str, request: Request) -> Response:
        """The sign-in form: an email address."""
        return guarded(lambda c: _sign_in_form(c, "", None), request, tenant)

    @app.post(f"{PREFIX}/{{tenant}}/sign-in", tags=["privacy center"], response_class=Response)
    def privacy_send_code(
        tenant: str, request: Request, form: FormData, background: BackgroundTasks
    ) -> Response:
        """Send a one-time code to the address (the same answer for every address)."""

        def send(center: Center) -> Response:
            email = form.one("email").strip()
            try:
                pending = sessions.start_sign_in(
                    center.ctx,
                    sessions.PRIVACY,
                    center.tenant,
                    email,
                    account_of=portal.account_of(center.tenant),
                    compose=_sign_in_mail(center),
                    client=_client(request),
                )
            except InvalidInput as exc:
                return _sign_in_form(center, email, readable(center, exc), status=422)
            center.visit.rotate(pending)
            center.background.append((deliver_mail, (center.ctx,)))
            return center.redirect(center.urls.code)

        return guarded(send, request, tenant, form=form, background=background)

    @app.get(f"{PREFIX}/{{tenant}}/sign-in/code", tags=["privacy center"], response_class=Response)
    def privacy_code(tenant: str, request: Request) -> Response:
        """The form for the emailed code."""
        return guarded(lambda c: _code_form(c, None), request, tenant)

    @app.post(f"{PREFIX}/{{tenant}}/sign-in/code", tags=["privacy center"], response_class=Response)
    def privacy_verify(tenant: str, request: Request, form: FormData) -> Response:
        """Check the code; a new session starts with a new token."""

        def verify(center: Center) -> Response:
            try:
                token, session = sessions.verify_sign_in(
                    center.ctx,
                    sessions.PRIVACY,
                    center.tenant,
                    center.visit.token,
                    form.one("code"),
                )
            except InvalidInput as exc:
                if exc.details.get("reason") in ("no_pending", "expired") or (
                    exc.details.get("tries_left", 1) <= 0
                ):
                    center.visit.flash(readable(center, exc), "error")
                    return center.redirect(center.urls.sign_in)
                return _code_form(center, readable(center, exc), status=422)
            center.visit.rotate(token)
            center.session = session
            if request.headers.get("sec-gpc", "").strip() == "1":
                from tutela.services import consent

                consent.apply_gpc(
                    center.ctx,
                    portal.subject(session),
                    str(session.account),
                    consent.Evidence(request.headers.get("user-agent"), _client(request)),
                )
            center.visit.flash(center._("You are signed in."))
            return center.redirect(center.urls.data)

        return guarded(verify, request, tenant, form=form)

    @app.post(f"{PREFIX}/{{tenant}}/sign-out", tags=["privacy center"], response_class=Response)
    def privacy_sign_out(tenant: str, request: Request, form: FormData) -> Response:
        """End the session."""

        def sign_out(center: Center) -> Response:
            sessions.end(center.ctx, sessions.PRIVACY, center.visit.token)
            center.visit.rotate(None)
            center.session = None
            center.visit.flash(center._("You are signed out."))
            return center.redirect(center.urls.home)

        return guarded(sign_out, request, tenant, form=form)


def _sign_in_form(center: Center, email: str, error: str | None, status: int = 200) -> Response:
    return center.page(
        "privacy/sign_in.html.j2",
        center._("Sign in"),
        status=status,
        email=email,
        error=error,
        minutes=CODE_MINUTES,
    )


def _code_form(center: Center, error: str | None, status: int = 200) -> Response:
    return center.page(
        "privacy/code.html.j2",
        center._("Enter your code"),
        status=status,
        error=error,
        minutes=CODE_MINUTES,
        attempts=CODE_ATTEMPTS,
    )


__all__ = ["N_", "Center", "Urls", "guarded", "install", "open_center", "readable"]
