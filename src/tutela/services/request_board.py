"""The privacy officer's view of the request queue: filters, sorting, countdowns,
duplicates, masked identities, an explicit (audited) reveal and a CSV export.

Identities stay masked (``a•••@example.com``) in every list; the full address is shown
only after :func:`reveal`, which writes an audit entry naming the request. Two open
requests of the same type are duplicates when they name the same subject or the same
identity (blind index). Requests whose identity is not verified yet are left out unless
asked for, so the queue shows what can be worked on.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tutela.domain import identities
from tutela.domain import requests as rules
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Conflict, InvalidInput
from tutela.services import requests
from tutela.services.context import Context
from tutela.services.ports import RequestRecord

UNVERIFIED = frozenset({"received", "verifying"})
URGENCIES = ("overdue", "due_soon", "on_time")
SORTS = ("due", "received")
#: how many open requests of a tenant the board reads at most
READ_LIMIT = 10_000
#: closed requests are listed after the open ones, the most recently received first, up to
CLOSED_LIMIT = 1_000
#: requests on one page of the queue
PAGE_SIZE = 100
EXPORT_COLUMNS = (
    "id",
    "type",
    "state",
    "jurisdiction",
    "language",
    "identity_kind",
    "received_at",
    "due",
    "urgency",
    "days_left",
    "extended",
    "verified_by",
    "duplicate_of",
)


@dataclass(frozen=True, slots=True)
class Filters:
    """What the officer asked to see; every value checked."""

    type: str | None = None
    state: str | None = None
    urgency: str | None = None
    unverified: bool = False
    sort: str = "due"
    page: int = 1

    @classmethod
    def parse(cls, values: Mapping[str, str]) -> Filters:
        kind = values.get("type") or None
        state = values.get("state") or None
        urgency = values.get("urgency") or None
        sort = values.get("sort") or "due"
        for name, value, allowed in (
            ("type", kind, rules.TYPES),
            ("state", state, rules.STATES),
            ("urgency", urgency, URGENCIES),
            ("sort", sort, SORTS),
        ):
            if value is not None and value not in allowed:
                raise InvalidInput(
                    f"unknown {name} {value!r}; use one of {', '.join(allowed)}",
                    details={"field": name},
                )
        shown = values.get("unverified", "") in ("1", "on", "true", "yes")
        page = values.get("page") or "1"
        if not page.isdigit() or not 1 <= int(page) <= 100_000:
            raise InvalidInput(
                f"page must be a number from 1, not {page!r}", details={"field": "page"}
            )
        return cls(kind, state, urgency, shown, sort, int(page))

    def as_query(self) -> dict[str, str]:
        """The filters as URL query parameters (defaults left out)."""
        query = {"type": self.type, "state": self.state, "urgency": self.urgency}
        found = {k: v for k, v in query.items() if v}
        if self.unverified:
            found["unverified"] = "1"
        if self.sort != "due":
            found["sort"] = self.sort
        if self.page != 1:
            found["page"] = str(self.page)
        return found

    def on_page(self, page: int) -> Filters:
        return replace(self, page=page)


@dataclass(frozen=True, slots=True)
class Row:
    """One request in the queue: its view (no identity), the masked identity, the
    countdown and the open requests it duplicates."""

    view: dict[str, Any]
    masked: str
    days_left: int | None  # None: closed
    badge: str  # overdue | due_soon | on_time | closed
    duplicates: tuple[str, ...]
    received_at: int
    due_at: int

    @property
    def id(self) -> str:
        return str(self.view["id"])


@dataclass(frozen=True, slots=True)
class Board:
    rows: list[Row]
    hidden_unverified: int  # matching requests left out because they are not verified
    counts: dict[str, int] = field(default_factory=dict)  # open, overdue, due_soon, unverified
    total: int = 0  # requests matching the filters, on every page
    page: int = 1
    pages: int = 1


def _today(ctx: Context) -> dt.date:
    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC).date()


def _day(micros: int) -> dt.date:
    return dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC).date()


def duplicates_of(records: Iterable[RequestRecord]) -> dict[str, tuple[str, ...]]:
    """Open requests of the same type naming the same subject or identity: id -> the others."""
    groups: dict[tuple[str, str, object], set[str]] = {}
    for r in records:
        if r.state not in rules.OPEN_STATES:
            continue
        groups.setdefault((r.type, "identity", (r.identity_kind, r.identity_digest)), set()).add(
            r.id
        )
        if r.subject_id is not None:
            groups.setdefault((r.type, "subject", r.subject_id), set()).add(r.id)
    found: dict[str, set[str]] = {}
    for members in groups.values():
        if len(members) > 1:
            for member in members:
                found.setdefault(member, set()).update(members - {member})
    return {k: tuple(sorted(v)) for k, v in found.items()}


def _masked(ctx: Context, record: RequestRecord) -> str:
    if not record.identity_enc:
        return ""  # removed once an erasure was carried out
    return identities.mask(record.identity_kind, requests.identity_of(ctx, record))


def _row(
    ctx: Context,
    record: RequestRecord,
    today: dt.date,
    dupes: Mapping[str, tuple[str, ...]],
    *,
    masked: bool = True,
) -> Row:
    """A request in the queue; with ``masked`` its identity is decrypted to be masked."""
    is_open = record.state in rules.OPEN_STATES
    days_left = (_day(record.due_at) - today).days if is_open else None
    badge = (
        rules.urgency(_day(record.received_at), _day(record.due_at), today) if is_open else "closed"
    )
    return Row(
        requests.view(ctx, record),
        _masked(ctx, record) if masked else "",
        days_left,
        badge,
        dupes.get(record.id, ()),
        record.received_at,
        record.due_at,
    )


def _counts(records: Iterable[RequestRecord], today: dt.date) -> dict[str, int]:
    counts = {"open": 0, "overdue": 0, "due_soon": 0, "unverified": 0}
    for record in records:
        if record.state not in rules.OPEN_STATES:
            continue
        counts["open"] += 1
        level = rules.urgency(_day(record.received_at), _day(record.due_at), today)
        if level in counts:
            counts[level] += 1
        if record.state in UNVERIFIED:
            counts["unverified"] += 1
    return counts


def _selected(
    ctx: Context, who: Principal, filters: Filters, *, masked: bool, limit: int, offset: int = 0
) -> Board:
    who.require("requests.manage")
    open_states = sorted(rules.OPEN_STATES)
    closed_shown = filters.state in (None, *rules.FINAL_STATES) and filters.urgency is None
    with ctx.uow(read_only=True) as uow:
        records = uow.requests.queue(who.tenant_id, open_states, READ_LIMIT)
        if closed_shown:
            records += uow.requests.latest(
                who.tenant_id, sorted(rules.FINAL_STATES), CLOSED_LIMIT if limit else 0
            )
    today = _today(ctx)
    dupes = duplicates_of(records)
    chosen: list[tuple[str, int, int, str, RequestRecord]] = []
    hidden = 0
    for record in records:
        is_open = record.state in rules.OPEN_STATES
        badge = (
            rules.urgency(_day(record.received_at), _day(record.due_at), today)
            if is_open
            else "closed"
        )
        if (
            (filters.type is not None and record.type != filters.type)
            or (filters.state is not None and record.state != filters.state)
            or (filters.urgency is not None and badge != filters.urgency)
        ):
            continue
        if record.state in UNVERIFIED and not filters.unverified and filters.state is None:
            hidden += 1
            continue
        chosen.append((badge, record.due_at, record.received_at, record.id, record))
    if filters.sort == "received":
        chosen.sort(key=lambda c: (-c[2], c[3]))
    else:
        chosen.sort(key=lambda c: (c[0] == "closed", c[1], c[2], c[3]))
    shown = chosen[offset : offset + limit]
    rows = [_row(ctx, c[4], today, dupes, masked=masked) for c in shown]
    pages = max(1, -(-len(chosen) // limit)) if limit else 1
    page = offset // limit + 1 if limit else 1
    return Board(rows, hidden, _counts(records, today), len(chosen), page, pages)


def board(ctx: Context, who: Principal, filters: Filters, *, limit: int | None = None) -> Board:
    """One page of the tenant's requests as the officer filtered and sorted them
    (identities masked; ``limit`` rows a page, default ``PAGE_SIZE``), with the number of
    matching unverified requests left out, the open counts and the number of pages."""
    size = PAGE_SIZE if limit is None else limit
    offset = (filters.page - 1) * size
    return _selected(ctx, who, filters, masked=True, limit=size, offset=offset)


def detail(ctx: Context, who: Principal, request_id: str) -> tuple[Row, list[dict[str, Any]]]:
    """One request with its countdown, duplicates and history (its timeline)."""
    who.require("requests.manage")
    with ctx.uow(read_only=True) as uow:
        record = requests._get(uow, who.tenant_id, request_id)
        history = uow.requests.events(record.id)
        same = [
            *uow.requests.by_identity(who.tenant_id, record.identity_kind, record.identity_digest)
        ]
    if record.subject_id is not None:
        with ctx.uow(read_only=True) as uow:
            others = uow.requests.queue(who.tenant_id, sorted(rules.OPEN_STATES), READ_LIMIT)
        same += [r for r in others if r.subject_id == record.subject_id]
    unique = {r.id: r for r in [record, *same]}
    dupes = duplicates_of(unique.values())
    return _row(ctx, record, _today(ctx), dupes), history


def reveal(ctx: Context, who: Principal, request_id: str) -> str:
    """The identity a request names, in full; the reveal is audited for this request."""
    who.require("requests.manage")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = requests._get(uow, who.tenant_id, request_id)
        if not record.identity_enc:
            raise Conflict(
                "this request no longer holds the identity it named: it was removed when the "
                "erasure was carried out",
                details={"reason": "identity_removed"},
            )
        uow.audit.append(
            AuditEvent(
                "request.identity_revealed",
                who.actor,
                who.tenant_id,
                record.subject_id,
                (),
                {"request": record.id, "identity": record.identity_kind},
            ),
            now,
        )
        uow.commit()
    return requests.identity_of(ctx, record)


def identity(ctx: Context, who: Principal, request_id: str) -> str:
    """The identity of a request already revealed to this officer (no new audit entry)."""
    who.require("requests.manage")
    with ctx.uow(read_only=True) as uow:
        record = requests._get(uow, who.tenant_id, request_id)
    return requests.identity_of(ctx, record) if record.identity_enc else ""


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def export_csv(ctx: Context, who: Principal, filters: Filters) -> str:
    """The filtered queue as CSV, without any identity; the export is audited."""
    found = _selected(ctx, who, filters, masked=False, limit=READ_LIMIT + CLOSED_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in found.rows:
        v = row.view
        writer.writerow(
            _cell(x)
            for x in (
                v["id"],
                v["type"],
                v["state"],
                v["jurisdiction"],
                v["language"],
                v["identity"],
                v["received_at"],
                v["due"],
                row.badge,
                row.days_left,
                "yes" if v["extended"] else "no",
                v["verified_by"],
                " ".join(row.duplicates),
            )
        )
    with ctx.uow() as uow:
        uow.audit.append(
            AuditEvent(
                "requests.exported",
                who.actor,
                who.tenant_id,
                None,
                (),
                {"rows": len(found.rows), "filters": filters.as_query(), "format": "csv"},
            ),
            ctx.clock(),
        )
        uow.commit()
    return out.getvalue()
