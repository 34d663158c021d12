"""Legal holds: data that must not be deleted — by retention, erasure requests or sunset —
while a lawsuit, an authority's order or a contract enforcement needs it.

A hold covers one subject, one data category (in every subject of the tenant), or the whole
tenant; it has a reason, who placed it, and an optional end date. Every result that skipped
data because of a hold names the hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import InvalidInput, NotFound
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork, Hold


def _today(ctx: Context) -> dt.date:
    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC).date()


def place(
    ctx: Context,
    who: Principal,
    *,
    reason: str,
    subject_id: str | None = None,
    category: str | None = None,
    ends_on: str | None = None,
) -> dict[str, Any]:
    who.require("subjects.erase")
    if not reason.strip():
        raise InvalidInput("a legal hold needs its reason (the case, order or law)")
    if subject_id and category:
        raise InvalidInput("a hold covers a subject, a category, or the whole tenant: give one")
    if category and ctx.declarations.category(category) is None:
        raise InvalidInput(f"{category}: not a declared data category")
    end: dt.date | None = None
    if ends_on:
        try:
            end = dt.date.fromisoformat(ends_on)
        except ValueError:
            raise InvalidInput("the end date must be YYYY-MM-DD") from None
        if end < _today(ctx):
            raise InvalidInput("the end date is in the past")
    now = ctx.clock()
    hold = Hold(
        ctx.new_id(),
        who.tenant_id,
        subject_id,
        category,
        reason.strip()[:2000],
        who.actor,
        now,
        end,
    )
    with ctx.uow() as uow:
        if subject_id and uow.subjects.get(who.tenant_id, subject_id) is None:
            raise NotFound(f"no subject {subject_id} in this tenant")
        uow.lifecycle.add_hold(hold)
        uow.audit.append(
            AuditEvent(
                "hold.place",
                who.actor,
                who.tenant_id,
                subject_id,
                [category] if category else (),
                {"hold": hold.id},
            ),
            now,
        )
        uow.commit()
    return hold.as_dict()


def release(ctx: Context, who: Principal, hold_id: str) -> dict[str, Any]:
    who.require("subjects.erase")
    now = ctx.clock()
    with ctx.uow() as uow:
        if not uow.lifecycle.release_hold(who.tenant_id, hold_id, who.actor, now):
            raise NotFound(f"no hold {hold_id} in force in this tenant")
        uow.audit.append(
            AuditEvent("hold.release", who.actor, who.tenant_id, None, (), {"hold": hold_id}), now
        )
        uow.commit()
    return {"released": hold_id}


def listing(ctx: Context, who: Principal) -> list[dict[str, Any]]:
    who.require("subjects.list")
    with ctx.uow(read_only=True) as uow:
        return [h.as_dict() for h in uow.lifecycle.holds(who.tenant_id, _today(ctx))]


def in_force(
    ctx: Context, uow: AbstractUnitOfWork, tenant_id: str, subject_ids: Sequence[str] | None = None
) -> list[Hold]:
    return uow.lifecycle.holds(tenant_id, _today(ctx), subject_ids=subject_ids)


def blocking(holds: Sequence[Hold], subject_id: str | None, category: str | None) -> Hold | None:
    """The first hold that keeps this category of this subject, if any."""
    return next((h for h in holds if h.covers(subject_id, category)), None)
