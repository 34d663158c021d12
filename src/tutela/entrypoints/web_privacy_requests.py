"""The privacy center, part three: downloads, requests with their history, deletion with a
cooling-off period, and the readable page of an expired download link."""

from __future__ import annotations

from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import Response

from tutela.domain import requests as rules
from tutela.domain.errors import Conflict, InvalidInput, NotFound, TutelaError
from tutela.entrypoints import web_base
from tutela.entrypoints.web_base import N_
from tutela.entrypoints.web_privacy import (
    PREFIX,
    Center,
    FormData,
    guarded,
    open_center,
    readable,
)
from tutela.entrypoints.web_privacy_data import facts, words
from tutela.services import packages, portal

TYPE_NAMES = {
    "access": N_("Access to your data"),
    "portability": N_("A copy to take elsewhere (portability)"),
    "rectification": N_("Correction"),
    "erasure": N_("Erasure"),
    "restriction": N_("Restriction of processing"),
    "lift_restriction": N_("Lifting a restriction"),
    "objection": N_("Objection"),
    "withdraw_consent": N_("Withdrawal of every consent"),
    "account_closure": N_("Account closure"),
}
#: the requests the form on the requests page makes (the others have their own pages)
FORM_TYPES = {
    "restriction": N_("we keep your data but stop using it, e.g. while you dispute it"),
    "lift_restriction": N_("we may use your data again as before"),
    "objection": N_("we stop a use based on our legitimate interests, or direct marketing"),
    "withdraw_consent": N_("every consent you gave ends at once"),
}
STATE_NAMES = {
    "received": N_("Received"),
    "verifying": N_("Checking your identity"),
    "verified": N_("Waiting to be carried out"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}


def _size(center: Center, size: int) -> str:
    from babel.numbers import format_decimal

    from tutela import i18n

    kib = max(1, round(size / 1024))
    return center._("%(n)s KB", n=format_decimal(kib, locale=i18n.locale(center.language)))


# -- download -------------------------------------------------------------------------------


def _download(center: Center) -> Response:
    assert center.session is not None
    found = portal.my_packages(center.ctx, center.session)
    for item in found:
        if "size" in item:
            item["size_text"] = _size(center, item["size"])
    w, f = words(center), facts(center)
    return center.page(
        "privacy/download.html.j2",
        center._("Download my data"),
        packages=found,
        purposes=[{"key": p.key, "name": w.purpose(p.key)} for p in f.purposes],
        days=center.ctx.package_days,
        states={k: center._(v) for k, v in STATE_NAMES.items()},
    )


def _ask_package(center: Center, form: FormData) -> Response:
    assert center.session is not None
    details: dict[str, Any] = {}
    formats = [x for x in form.many("format") if x in packages.FORMATS]
    if not formats:
        center.visit.flash(center._("Tick at least one kind of file."), "error")
        return center.redirect(center.urls.download)
    if len(formats) < len(packages.FORMATS):
        details["formats"] = formats
    if form.one("scope") == "purposes":
        chosen = set(form.many("purpose"))
        keys = sorted(
            {
                c
                for p in getattr(center.ctx.declarations, "purposes", ())
                if p.key in chosen
                for c in p.categories
            }
        )
        if not keys:
            center.visit.flash(
                center._("Tick at least one purpose, or choose everything."), "error"
            )
            return center.redirect(center.urls.download)
        details["categories"] = keys
    try:
        made = portal.submit(
            center.ctx, center.session, "access", details=details or None, language=center.language
        )
    except Conflict:
        center.visit.flash(
            center._("A copy of your data is already being prepared; it is listed below."), "info"
        )
        return center.redirect(center.urls.download)
    center.background.append((portal.run, (center.ctx, center.tenant, made["id"])))
    center.visit.flash(center._("We are preparing your copy. It appears below when it is ready."))
    return center.redirect(center.urls.download)


def _package(center: Center, request_id: str) -> Response:
    assert center.session is not None
    try:
        content = portal.package(center.ctx, center.session, request_id)
    except NotFound as exc:
        return center.error(
            exc,
            center._(
                "This download has expired or does not exist. You can ask for a new copy of "
                "your data on the Download page."
            ),
        )
    return center.visit.finish(
        Response(
            content,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="personal-data-{request_id[:8]}.zip"'
            },
        )
    )


# -- requests -------------------------------------------------------------------------------


def _history_text(center: Center, entry: dict[str, Any]) -> str:
    to = entry.get("to")
    name = center._(STATE_NAMES.get(str(to), str(to)))
    if entry.get("from") == to:
        return center._("%(state)s (note: %(note)s)", state=name, note=entry.get("note", ""))
    return name


def _requests_page(center: Center) -> Response:
    assert center.session is not None
    items = portal.my_requests(center.ctx, center.session)
    for item in items:
        type_name, state_name = TYPE_NAMES[item["type"]], STATE_NAMES[item["state"]]
        item["type_name"] = center._(type_name)
        item["state_name"] = center._(state_name)
        item["open"] = item["state"] in rules.OPEN_STATES
        item["badge"] = (
            "open" if item["open"] else "done" if item["state"] == "completed" else "closed"
        )
        import datetime as dt

        item["due_text"] = web_base._date(dt.date.fromisoformat(item["due"]), center.language)
        item["history_items"] = [
            {"when": _when(center, h["at"]), "text": _history_text(center, h)}
            for h in item.get("history", [])
        ]
    declared = getattr(center.ctx.declarations, "purposes", ())
    w = words(center)
    objectable = [("direct_marketing", center._("Direct marketing"))] + [
        (p.key, w.purpose(p.key))
        for p in declared
        if p.legal_basis in ("legitimate_interests", "public_task")
    ]
    kinds = [(k, center._(TYPE_NAMES[k]), center._(v)) for k, v in FORM_TYPES.items()]
    return center.page(
        "privacy/requests.html.j2",
        center._("My requests"),
        items=items,
        kinds=kinds,
        objectable=objectable,
    )


def _when(center: Center, iso: str) -> str:
    import datetime as dt

    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return web_base._datetime(int(moment.timestamp() * 1_000_000), center.language)


def _make_request(center: Center, form: FormData) -> Response:
    assert center.session is not None
    kind = form.one("type")
    if kind not in FORM_TYPES:
        center.visit.flash(center._("Choose the request you want to make."), "error")
        return center.redirect(center.urls.requests)
    details = {"purpose": form.one("purpose")} if kind == "objection" else None
    try:
        made = portal.submit(
            center.ctx, center.session, kind, details=details, language=center.language
        )
    except Conflict:
        center.visit.flash(
            center._(
                "You already have an open request of this kind; it is listed below. We do not "
                "make it twice."
            ),
            "error",
        )
        return center.redirect(center.urls.requests)
    except InvalidInput as exc:
        center.visit.flash(readable(center, exc), "error")
        return center.redirect(center.urls.requests)
    center.background.append((portal.run, (center.ctx, center.tenant, made["id"])))
    center.visit.flash(center._("Your request was received. It is carried out now."))
    return center.redirect(center.urls.requests)


def _cancel(center: Center, request_id: str) -> Response:
    assert center.session is not None
    try:
        portal.cancel(center.ctx, center.session, request_id)
    except Conflict:
        center.visit.flash(
            center._("This request cannot be cancelled any more: it is already being carried out."),
            "error",
        )
        return center.redirect(center.urls.requests)
    center.visit.flash(center._("The request was cancelled."))
    return center.redirect(center.urls.requests)


# -- deletion -------------------------------------------------------------------------------


def _delete_form(center: Center, error: str | None = None, status: int = 200) -> Response:
    assert center.session is not None
    w, f = words(center), facts(center)
    kept = [
        {
            "data": w.categories(p.categories, f.categories),
            "purpose": w.purpose(p.key),
            "kept": w.kept(p.retention),
        }
        for p in f.purposes
        if p.legal_basis == "legal_obligation"
    ]
    pending = any(portal.open_request(center.ctx, center.session, k) for k in portal.FORGETTING)
    return center.page(
        "privacy/delete.html.j2",
        center._("Delete my data"),
        status=status,
        kept=kept,
        hours=portal.cooling_off_hours(center.ctx),
        pending=pending,
        error=error,
    )


def _delete(center: Center, form: FormData) -> Response:
    assert center.session is not None
    kind = form.one("type")
    if kind not in portal.FORGETTING:
        kind = "erasure"
    if form.one("confirm") != "yes":
        return _delete_form(
            center,
            center._("Tick the box to confirm that you understand the data cannot be restored."),
            status=422,
        )
    try:
        made = portal.submit(center.ctx, center.session, kind, language=center.language)
    except Conflict:
        center.visit.flash(
            center._("You already asked for this; it is listed below. We do not make it twice."),
            "error",
        )
        return center.redirect(center.urls.requests)
    hours = portal.cooling_off_hours(center.ctx)
    if hours == 0:
        center.background.append((portal.run, (center.ctx, center.tenant, made["id"])))
        center.visit.flash(center._("Your data is being deleted now."))
    else:
        center.visit.flash(
            center._(
                "Your request was received. It is carried out on %(date)s; until then you can "
                "cancel it here.",
                date=web_base._datetime(made["cooling_off_until"], center.language),
            )
        )
    return center.redirect(center.urls.requests)


def expired_link_page(request: Request, tenant: str, exc: TutelaError) -> Response:
    """The readable page of a download link that expired or is not valid (no session)."""
    try:
        center = open_center(request, tenant)
    except NotFound:
        return Response("This download is not available.\n", 404, media_type="text/plain")
    message = center._(
        "This download link has expired or is not valid. Sign in to the privacy center to "
        "ask for a new copy of your data."
    )
    return center.page(
        "error.html.j2",
        center._("This download is not available"),
        status=404 if isinstance(exc, NotFound) else 400,
        message=message,
        back=(center.urls.sign_in, center._("Sign in")),
    )


def install(app: FastAPI) -> None:
    """The routes of downloads, requests and deletion."""

    @app.get(f"{PREFIX}/{{tenant}}/download", tags=["privacy center"], response_class=Response)
    def privacy_download(tenant: str, request: Request) -> Response:
        """The subject's packages and the form to ask for a new one."""
        return guarded(_download, request, tenant, signed_in=True)

    @app.post(f"{PREFIX}/{{tenant}}/download", tags=["privacy center"], response_class=Response)
    def privacy_ask_package(
        tenant: str, request: Request, form: FormData, background: BackgroundTasks
    ) -> Response:
        """Ask for an access package of everything, or of some purposes, in chosen files."""
        return guarded(
            lambda c: _ask_package(c, form),
            request,
            tenant,
            signed_in=True,
            form=form,
            background=background,
        )

    @app.get(
        f"{PREFIX}/{{tenant}}/download/{{request_id}}",
        tags=["privacy center"],
        response_class=Response,
    )
    def privacy_package(tenant: str, request_id: str, request: Request) -> Response:
        """Download one of the subject's packages (a readable page once it expired)."""
        return guarded(lambda c: _package(c, request_id), request, tenant, signed_in=True)

    @app.get(f"{PREFIX}/{{tenant}}/requests", tags=["privacy center"], response_class=Response)
    def privacy_requests(tenant: str, request: Request) -> Response:
        """The subject's requests with status, deadline and history; the request form."""
        return guarded(_requests_page, request, tenant, signed_in=True)

    @app.post(f"{PREFIX}/{{tenant}}/requests", tags=["privacy center"], response_class=Response)
    def privacy_make_request(
        tenant: str, request: Request, form: FormData, background: BackgroundTasks
    ) -> Response:
        """Make a restriction, lifting, objection or withdrawal request (duplicates flagged)."""
        return guarded(
            lambda c: _make_request(c, form),
            request,
            tenant,
            signed_in=True,
            form=form,
            background=background,
        )

    @app.post(
        f"{PREFIX}/{{tenant}}/requests/{{request_id}}/cancel",
        tags=["privacy center"],
        response_class=Response,
    )
    def privacy_cancel(tenant: str, request_id: str, request: Request, form: FormData) -> Response:
        """Cancel a request that has not started (an erasure during its cooling-off period)."""
        return guarded(lambda c: _cancel(c, request_id), request, tenant, signed_in=True, form=form)

    @app.get(f"{PREFIX}/{{tenant}}/delete", tags=["privacy center"], response_class=Response)
    def privacy_delete(tenant: str, request: Request) -> Response:
        """What deletion means, the offer to download first, and the confirmation."""
        return guarded(_delete_form, request, tenant, signed_in=True)

    @app.post(f"{PREFIX}/{{tenant}}/delete", tags=["privacy center"], response_class=Response)
    def privacy_confirm_delete(
        tenant: str, request: Request, form: FormData, background: BackgroundTasks
    ) -> Response:
        """Confirmed erasure or account closure, carried out after the cooling-off period."""
        return guarded(
            lambda c: _delete(c, form),
            request,
            tenant,
            signed_in=True,
            form=form,
            background=background,
        )
