"""The admin console, part three: incidents with their legal clocks, policy versions with
their changes and notification status, the audit log's verification and consent counts
per purpose. Each page shows only what the officer's scopes allow in the tenant."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tutela.domain.errors import NotFound
from tutela.entrypoints import admin_texts as texts
from tutela.entrypoints.web_admin import PREFIX, Desk, FormData, guarded
from tutela.services import audit, consent_statistics, console, incidents, policy

HOUR = 3600


def time_left(seconds: int | None) -> dict[str, Any] | None:
    """A clock's time left as a whole number of days (two days or more) or hours,
    rounded up, and whether it is overdue."""
    if seconds is None:
        return None
    overdue = seconds < 0
    span = abs(seconds)
    if span >= 48 * HOUR:
        return {"count": math.ceil(span / (24 * HOUR)), "unit": "days", "overdue": overdue}
    return {"count": max(1, math.ceil(span / HOUR)), "unit": "hours", "overdue": overdue}


def _clock(desk: Desk, clock: dict[str, Any]) -> dict[str, Any]:
    status = str(clock["status"])
    return {
        **clock,
        "status_name": desk.name(texts.CLOCK_STATUS_NAMES, status),
        "audience_name": desk.name(texts.AUDIENCE_NAMES, str(clock["audience"])),
        "urgent": status in ("overdue", "due_soon"),
        "left": time_left(clock["seconds_left"]),
    }


def _incidents(desk: Desk, request: Request) -> Response:
    closed = request.query_params.get("closed") == "1"
    items = incidents.listing(desk.ctx, desk.who, include_closed=closed)
    shown = [
        {
            **item,
            "state_name": desk.name(texts.INCIDENT_STATE_NAMES, item["state"]),
            "risk_name": (
                desk.name(texts.RISK_NAMES, item["assessment"]["risk"])
                if item["assessment"]
                else None
            ),
            "clocks": [_clock(desk, c) for c in item["clocks"]],
            "stopped": [_clock(desk, c) for c in item["stopped_clocks"]],
        }
        for item in items
    ]
    return desk.page("incidents.html.j2", desk._(texts.INCIDENTS_TITLE), items=shown, closed=closed)


def _notices(desk: Desk, counts: dict[str, int]) -> list[tuple[str, int]]:
    return [(desk.name(texts.MAIL_STATE_NAMES, k), n) for k, n in sorted(counts.items())]


def _versions(desk: Desk) -> Response:
    items = [
        {
            **v,
            "status_name": desk.name(texts.POLICY_STATUS_NAMES, v["status"]),
            "notice_counts": _notices(desk, v["notices"]),
            "url": f"{PREFIX}/policy/{v['version']}",
        }
        for v in policy.list_versions(desk.ctx, desk.who)
    ]
    return desk.page("policy.html.j2", desk._(texts.POLICY_TITLE), items=items)


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _version(desk: Desk, version: int) -> Response:
    shown = policy.show(desk.ctx, desk.who, version)
    changes, _impact = policy.changes_of(desk.ctx, version)
    return desk.page(
        "policy_version.html.j2",
        desk._(texts.VERSION_TITLE, version=version),
        v={
            **shown,
            "status_name": desk.name(texts.POLICY_STATUS_NAMES, shown["status"]),
            "notice_counts": _notices(desk, shown["notices"]),
        },
        changes=[
            {
                "path": c.path,
                "kind": desk.name(texts.CHANGE_NAMES, c.kind),
                "old": _value(c.old),
                "new": _value(c.new),
                "material": c.material,
                "reason": c.reason,
            }
            for c in changes
        ],
    )


def _audit(desk: Desk) -> Response:
    assert desk.officer is not None
    last = desk.officer.data.get("audit")
    if isinstance(last, dict):
        last = {
            **last,
            "problems": [
                {**p, "kind_name": desk.name(texts.PROBLEM_NAMES, str(p.get("kind")))}
                for p in last.get("problems", [])
            ],
        }
    return desk.page("audit.html.j2", desk._(texts.AUDIT_TITLE), last=last)


def _verify(desk: Desk) -> Response:
    assert desk.officer is not None
    result = audit.verify(desk.ctx, desk.who)
    console.remember(desk.ctx, desk.officer, audit={**result.as_dict(), "at": desk.ctx.clock()})
    if result.ok:
        desk.flash(texts.AUDIT_OK)
    else:
        desk.flash(texts.AUDIT_BROKEN, "error")
    return desk.redirect(f"{PREFIX}/audit")


def _consent(desk: Desk) -> Response:
    total, rows = consent_statistics.per_purpose(desk.ctx, desk.who)
    return desk.page("consent.html.j2", desk._(texts.CONSENT_TITLE), total=total, rows=rows)


def install(app: FastAPI) -> None:
    """The routes of the incidents, policy, audit and consent pages."""

    @app.get(f"{PREFIX}/incidents", tags=["admin console"], response_class=Response)
    def admin_incidents(request: Request) -> Response:
        """Incidents with the time left on each legal clock, overdue ones first."""
        return guarded(lambda d: _incidents(d, request), request, permission="incidents.read")

    @app.get(f"{PREFIX}/policy", tags=["admin console"], response_class=Response)
    def admin_policy(request: Request) -> Response:
        """Policy versions with their status and notification counts."""
        return guarded(_versions, request, permission="policy.read")

    @app.get(f"{PREFIX}/policy/{{version}}", tags=["admin console"], response_class=Response)
    def admin_policy_version(version: str, request: Request) -> Response:
        """One policy version: every change from the one before, whom it concerns, notices."""

        def show(desk: Desk) -> Response:
            if not version.isdigit():
                raise NotFound(
                    f"there is no policy version {version}", details={"version": version}
                )
            return _version(desk, int(version))

        return guarded(show, request, permission="policy.read")

    @app.get(f"{PREFIX}/audit", tags=["admin console"], response_class=Response)
    def admin_audit(request: Request) -> Response:
        """The audit log check and the result of the last one."""
        return guarded(_audit, request, permission="audit.read")

    @app.post(f"{PREFIX}/audit/verify", tags=["admin console"], response_class=Response)
    def admin_audit_verify(request: Request, form: FormData) -> Response:
        """Verify the audit chains now."""
        return guarded(_verify, request, form=form, permission="audit.read")

    @app.get(f"{PREFIX}/consent", tags=["admin console"], response_class=Response)
    def admin_consent(request: Request) -> Response:
        """Consent counts per purpose: granted, refused, withdrawn, none."""
        return guarded(_consent, request, permission="consent.statistics")
