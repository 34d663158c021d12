"""The admin console, part two: the request queue with its filters, countdowns and
duplicates, the CSV export, and each request's page with its timeline, the audited reveal
of its identity and the officer's actions (verify, approve, run, reject, extend).

Every action is a POST with the CSRF token, answered with a 303 redirect to the request's
page and a flash message; a rejection or extension without a reason shows the page again
with the field marked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import Response

from tutela.domain import requests as rules
from tutela.domain.errors import InvalidInput
from tutela.domain.subjects import iso
from tutela.entrypoints import admin_texts as texts
from tutela.entrypoints.web_admin import PREFIX, Desk, FormData, deliver_mail, guarded
from tutela.entrypoints.web_base import Form
from tutela.services import console, request_board, request_runner, requests
from tutela.services.request_board import Filters, Row

PERMISSION = "requests.manage"


def url_of(request_id: str, action: str | None = None) -> str:
    return f"{PREFIX}/requests/{request_id}" + (f"/{action}" if action else "")


def _present(desk: Desk, row: Row) -> dict[str, Any]:
    view = row.view
    return {
        "id": row.id,
        "short": row.id[:8],
        "url": url_of(row.id),
        "type": desk.name(texts.TYPE_NAMES, view["type"]),
        "state": view["state"],
        "state_name": desk.name(texts.STATE_NAMES, view["state"]),
        "masked": row.masked,
        "identity_kind": view["identity"],
        "received": row.received_at,
        "due": view["due"],
        "badge": row.badge,
        "badge_name": desk.name(texts.URGENCY_NAMES, row.badge),
        "days_left": row.days_left,
        "duplicates": [(d[:8], url_of(d)) for d in row.duplicates],
        "extended": bool(view["extended"]),
    }


def _choices(desk: Desk, table: dict[str, str], keys: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(k, desk.name(table, k)) for k in keys]


def _queue(desk: Desk, request: Request) -> Response:
    filters = Filters.parse(dict(request.query_params))
    found = request_board.board(desk.ctx, desk.who, filters)
    query = filters.on_page(1).as_query()
    shown_unverified = {**query, "unverified": "1"}
    base = f"{PREFIX}/requests"
    return desk.page(
        "requests.html.j2",
        desk._(texts.QUEUE_TITLE),
        rows=[_present(desk, r) for r in found.rows],
        hidden=found.hidden_unverified,
        counts=found.counts,
        filters=filters,
        types=_choices(desk, texts.TYPE_NAMES, rules.TYPES),
        states=_choices(desk, texts.STATE_NAMES, rules.STATES),
        urgencies=_choices(desk, texts.URGENCY_NAMES, request_board.URGENCIES),
        export_url=f"{PREFIX}/requests.csv" + _query_string(query),
        show_unverified_url=base + _query_string(shown_unverified),
        total=found.total,
        page=found.page,
        pages=found.pages,
        previous_url=(
            base + _query_string(filters.on_page(found.page - 1).as_query())
            if found.page > 1
            else None
        ),
        next_url=(
            base + _query_string(filters.on_page(found.page + 1).as_query())
            if found.page < found.pages
            else None
        ),
    )


def _query_string(values: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return "?" + urlencode(values) if values else ""


def _export(desk: Desk, request: Request) -> Response:
    filters = Filters.parse(dict(request.query_params))
    body = request_board.export_csv(desk.ctx, desk.who, filters)
    today = dt.datetime.fromtimestamp(desk.ctx.clock() / 1_000_000, tz=dt.UTC).date()
    name = f"requests-{desk.who.tenant_id}-{today.isoformat()}.csv"
    response = Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return desk.visit.finish(response)


def _detail(
    desk: Desk, request_id: str, *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    row, history = request_board.detail(desk.ctx, desk.who, request_id)
    assert desk.officer is not None
    revealed = None
    if desk.officer.revealed(request_id):
        revealed = request_board.identity(desk.ctx, desk.who, request_id)
    view = row.view
    state = view["state"]
    is_open = state in rules.OPEN_STATES
    return desk.page(
        "request.html.j2",
        desk._(texts.REQUEST_TITLE, id=row.id[:8]),
        status=status,
        r=_present(desk, row),
        view=view,
        verified_by=desk.name(texts.METHOD_NAMES, view["verified_by"] or ""),
        revealed=revealed,
        history=[
            {
                **h,
                "iso": iso(h["at"]),
                "from_name": desk.name(texts.STATE_NAMES, h["from"]) if h["from"] else None,
                "to_name": desk.name(texts.STATE_NAMES, h["to"]),
            }
            for h in history
        ],
        actions={
            "verify": state in ("received", "verifying"),
            "approve": state == "verified",
            "run": state in ("verified", "in_progress"),
            "reject": is_open,
            "extend": is_open and not view["extended"],
        },
        methods=_choices(desk, texts.METHOD_NAMES, requests.VERIFICATION_METHODS),
        errors=errors or {},
        reasons={"reject": "", "extend": ""},
    )


def _reason(desk: Desk, request_id: str, form: Form, action: str) -> str | Response:
    reason = form.one("reason").strip()
    if not reason:
        return _detail(desk, request_id, errors={action: desk._(texts.REASON_NEEDED)}, status=422)
    return reason


def install(app: FastAPI) -> None:
    """The routes of the queue, its export and each request's page and actions."""

    @app.get(f"{PREFIX}/requests", tags=["admin console"], response_class=Response)
    def admin_requests(request: Request) -> Response:
        """The request queue: filters (type, status, urgency, unverified), sorting (due,
        received), countdowns and duplicates; identities masked."""
        return guarded(lambda d: _queue(d, request), request, permission=PERMISSION)

    @app.get(f"{PREFIX}/requests.csv", tags=["admin console"], response_class=Response)
    def admin_requests_csv(request: Request) -> Response:
        """The filtered queue as CSV, without identities (the export is audited)."""
        return guarded(lambda d: _export(d, request), request, permission=PERMISSION)

    @app.get(f"{PREFIX}/requests/{{request_id}}", tags=["admin console"], response_class=Response)
    def admin_request(request_id: str, request: Request) -> Response:
        """One request: facts, countdown, duplicates, actions and its timeline."""
        return guarded(lambda d: _detail(d, request_id), request, permission=PERMISSION)

    @app.post(
        f"{PREFIX}/requests/{{request_id}}/reveal", tags=["admin console"], response_class=Response
    )
    def admin_reveal(request_id: str, request: Request, form: FormData) -> Response:
        """Show the identity the request names to this session (audited)."""

        def reveal(desk: Desk) -> Response:
            assert desk.officer is not None
            request_board.reveal(desk.ctx, desk.who, request_id)
            console.remember_revealed(desk.ctx, desk.officer, request_id)
            desk.flash(texts.REVEALED, "info")
            return desk.redirect(url_of(request_id) + "#identity")

        return guarded(reveal, request, form=form, permission=PERMISSION)

    @app.post(
        f"{PREFIX}/requests/{{request_id}}/verify", tags=["admin console"], response_class=Response
    )
    def admin_verify(request_id: str, request: Request, form: FormData) -> Response:
        """Record the subject's identity as verified by a documented method."""

        def verify(desk: Desk) -> Response:
            method = form.one("method")
            if method not in requests.VERIFICATION_METHODS:
                raise InvalidInput(
                    f"choose one of {', '.join(requests.VERIFICATION_METHODS)}",
                    details={"field": "method"},
                )
            requests.mark_verified(desk.ctx, desk.who, request_id, method)
            desk.flash(texts.VERIFIED, method=desk.name(texts.METHOD_NAMES, method))
            return desk.redirect(url_of(request_id))

        return guarded(verify, request, form=form, permission=PERMISSION)

    @app.post(
        f"{PREFIX}/requests/{{request_id}}/approve", tags=["admin console"], response_class=Response
    )
    def admin_approve(request_id: str, request: Request, form: FormData) -> Response:
        """Approve a verified request for execution."""

        def approve(desk: Desk) -> Response:
            requests.approve(desk.ctx, desk.who, request_id)
            desk.flash(texts.APPROVED)
            return desk.redirect(url_of(request_id))

        return guarded(approve, request, form=form, permission=PERMISSION)

    @app.post(
        f"{PREFIX}/requests/{{request_id}}/run", tags=["admin console"], response_class=Response
    )
    def admin_run(request_id: str, request: Request, form: FormData) -> Response:
        """Carry the request out (or resume it)."""

        def run(desk: Desk) -> Response:
            done = request_runner.run(desk.ctx, desk.who, request_id)
            if done["state"] == "completed":
                desk.flash(texts.COMPLETED)
            else:
                desk.flash(texts.WAITING, "info")
            return desk.redirect(url_of(request_id))

        return guarded(run, request, form=form, permission=PERMISSION)

    @app.post(
        f"{PREFIX}/requests/{{request_id}}/reject", tags=["admin console"], response_class=Response
    )
    def admin_reject(
        request_id: str, request: Request, form: FormData, background: BackgroundTasks
    ) -> Response:
        """Reject the request; the reason (required) is sent to the subject."""

        def reject(desk: Desk) -> Response:
            reason = _reason(desk, request_id, form, "reject")
            if isinstance(reason, Response):
                return reason
            requests.reject(desk.ctx, desk.who, request_id, reason)
            deliver_mail(desk)
            desk.flash(texts.REJECTED)
            return desk.redirect(url_of(request_id))

        return guarded(reject, request, form=form, permission=PERMISSION, background=background)

    @app.post(
        f"{PREFIX}/requests/{{request_id}}/extend", tags=["admin console"], response_class=Response
    )
    def admin_extend(request_id: str, request: Request, form: FormData) -> Response:
        """Extend the deadline where the law allows; the reason (required) is sent to the
        subject."""

        def extend(desk: Desk) -> Response:
            reason = _reason(desk, request_id, form, "extend")
            if isinstance(reason, Response):
                return reason
            view = requests.extend(desk.ctx, desk.who, request_id, reason)
            desk.flash(texts.EXTENDED, date=_day_text(desk, view["due"]))
            return desk.redirect(url_of(request_id))

        return guarded(extend, request, form=form, permission=PERMISSION)


def _day_text(desk: Desk, iso_day: str) -> str:
    from tutela.entrypoints.web_admin import format_day

    return format_day(iso_day, desk.language)
