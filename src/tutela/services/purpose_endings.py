"""Purpose endings: the start event of retention rules counted from ``purpose_ended``.

A purpose ends for one subject (a contract fulfilled, a programme left) or for every subject
of the tenant (a service discontinued, a campaign over). The privacy officer records the
ending (``tutela retention end-purpose``, ``POST /v1/retention/purpose-endings``); the rules
of that purpose counted from ``purpose_ended`` start at that time. An ending recorded again
for the same subject (or the whole tenant) and purpose replaces the first; both are audited
(``purpose.end``, with the time it replaced), so no change of a period's start is silent.
When a subject has an ending of its own and the tenant one as well, the earlier counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import InvalidInput, NotFound
from tutela.domain.subjects import iso
from tutela.services.context import Context
from tutela.services.ports import EVERY_SUBJECT, PurposeEnding

#: how far ahead of the clock an ending may be dated (clocks of two machines differ a little)
CLOCK_SKEW = 5 * 60 * 1_000_000
_NONE: dict[str, int] = {}


def end_purpose(
    ctx: Context,
    who: Principal,
    purpose: str,
    *,
    subject_id: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """Record that ``purpose`` ended for one subject (or, without one, for every subject of
    the tenant) at ``at`` (ISO 8601; default now)."""
    who.require("subjects.erase")
    declared = {p.key: p for p in getattr(ctx.declarations, "purposes", ())}
    found = declared.get(purpose)
    if found is None:
        raise InvalidInput(
            f"{purpose}: not a declared purpose; declared: {', '.join(sorted(declared))}",
            details={"purpose": purpose, "declared": sorted(declared)},
        )
    now = ctx.clock()
    ended_at = now if at is None else parse_moment(at)
    if ended_at > now + CLOCK_SKEW:
        raise InvalidInput(
            f"{at}: in the future; record an ending once it has happened",
            details={"at": at},
        )
    ending = PurposeEnding(who.tenant_id, subject_id or EVERY_SUBJECT, purpose, ended_at, who.actor)
    with ctx.uow() as uow:
        if subject_id is not None and uow.subjects.get(who.tenant_id, subject_id) is None:
            raise NotFound(
                f"no subject {subject_id} in this tenant", details={"subject_id": subject_id}
            )
        previous = uow.lifecycle.end_purpose(ending)
        uow.audit.append(
            AuditEvent(
                "purpose.end",
                who.actor,
                who.tenant_id,
                subject_id,
                (),
                {
                    "purpose": purpose,
                    "ended_at": iso(ended_at),
                    "previous": iso(previous.ended_at) if previous else None,
                },
            ),
            now,
        )
        uow.commit()
    retention = found.retention
    counted = retention is not None and retention.after == "purpose_ended"
    return {
        "tenant": who.tenant_id,
        "purpose": purpose,
        "scope": "subject" if subject_id else "tenant",
        "subject_id": subject_id,
        "ended_at": iso(ended_at),
        "ended_by": who.actor,
        "previous": iso(previous.ended_at) if previous else None,
        "starts_retention": counted,
        "note": None
        if counted
        else (
            f"the retention of {purpose} is not counted from purpose_ended"
            + (f" but from {retention.after}" if retention else " (it has no retention rule)")
            + "; the ending is recorded but starts no period"
        ),
    }


def parse_moment(text: str) -> int:
    """Microseconds since the epoch of an ISO 8601 date or time (UTC unless it says)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{text!r}: not an ISO 8601 time; write e.g. 2026-03-31 or 2026-03-31T17:00:00Z",
            details={"at": text},
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000)


def by_subject(endings: Iterable[PurposeEnding]) -> dict[str, dict[str, int]]:
    """``subject id (or EVERY_SUBJECT) -> purpose -> ended at``."""
    found: dict[str, dict[str, int]] = {}
    for ending in endings:
        found.setdefault(ending.subject_id, {})[ending.purpose] = ending.ended_at
    return found


def ended_for(endings: dict[str, dict[str, int]], subject_id: str) -> dict[str, int]:
    """When each purpose ended for this subject: its own ending or the tenant's, the earlier."""
    if not endings:
        return _NONE
    merged = dict(endings.get(EVERY_SUBJECT, {}))
    for purpose, at in endings.get(subject_id, {}).items():
        merged[purpose] = min(at, merged.get(purpose, at))
    return merged
