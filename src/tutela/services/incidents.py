"""Incidents (personal-data breaches): the register, its timeline, the risk decision and the
legal clocks it starts, and closing.

Every change is written with its timeline entry and its audit entry in one transaction. The
audit entry names the incident and the fields that changed, never the texts: summaries and
measures are the operator's words, not subjects' data, but they may be sensitive, so they
are stored plainly and never logged. Telling subjects is ``incident_notices.py``; the
regulator's report is ``incident_reports.py``.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tutela.domain import incidents as rules
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from tutela.services.context import Context
from tutela.services.incident_records import IncidentRecord
from tutela.services.ports import AbstractUnitOfWork

#: the longest text accepted for a summary, a measure, a note …
MAX_TEXT = 20_000
#: a moment a little in the future is still accepted (clocks of different machines)
FUTURE_SLACK = dt.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Changes:
    """What ``open`` records and ``update`` may change (None: unchanged)."""

    summary: str | None = None
    kinds: Sequence[str] | None = None
    aware_at: str | None = None
    began_at: str | None = None
    tenants: Sequence[str] | None = None
    categories: Sequence[str] | None = None
    datasets: Sequence[str] | None = None
    approx_subjects: int | None = None
    approx_records: int | None = None
    encrypted: bool | None = None
    consequences: str | None = None
    measures: Sequence[str] | None = None  # added to the ones recorded
    advice: Sequence[str] | None = None  # added to the ones recorded


# -- time ---------------------------------------------------------------------------------


def moment(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)


def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def parse_time(text: str, name: str, now: int) -> int:
    """An ISO 8601 time (a time without an offset is UTC), not in the future."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} {text!r} is not an ISO 8601 time; write it like 2026-03-01T09:30:00Z",
            details={"field": name},
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if parsed - moment(now) > FUTURE_SLACK:
        raise InvalidInput(
            f"{name} {text} is in the future; give the time it happened",
            details={"field": name},
        )
    return micros(parsed)


# -- checks -------------------------------------------------------------------------------


def _text(value: str, name: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{name} is empty; say it in a sentence", details={"field": name})
    if len(value) > MAX_TEXT:
        raise InvalidInput(
            f"{name} is longer than {MAX_TEXT} characters; shorten it",
            details={"field": name},
        )
    return value


def _texts(values: Iterable[str], name: str) -> tuple[str, ...]:
    return tuple(_text(v, name) for v in values)


def _count(value: int | None, name: str) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput(f"{name} cannot be negative", details={"field": name})
    return value


def declared_categories(ctx: Context) -> list[str]:
    return sorted(getattr(ctx.declarations, "category_keys", ()))


def parents_of(ctx: Context) -> dict[str, str]:
    taxonomy = getattr(ctx.declarations, "taxonomy", None)
    return {e.key: e.parent for e in taxonomy.categories} if taxonomy else {}


def ancestry(key: str, parents: Mapping[str, str]) -> list[str]:
    """The key, its extension parents, and every dotted prefix of each."""
    found: list[str] = []
    current: str | None = key
    while current is not None and current not in found:
        found.append(current)
        current = parents.get(current)
    out: list[str] = []
    for item in found:
        parts = item.split(".")
        out += [".".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return out


def covered(ctx: Context, wanted: Iterable[str]) -> list[str]:
    """The declared categories the named ones cover (themselves, narrower keys, and
    extensions whose parent they cover)."""
    parents = parents_of(ctx)
    targets = set(wanted)
    return [k for k in declared_categories(ctx) if targets & set(ancestry(k, parents))]


def _check_categories(ctx: Context, names: Sequence[str]) -> tuple[str, ...]:
    declared = declared_categories(ctx)
    for name in names:
        if not covered(ctx, [name]):
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; declared: {', '.join(declared)}"
            raise InvalidInput(
                f"category {name!r} covers no declared data category{hint}",
                details={"category": name},
            )
    return tuple(dict.fromkeys(names))


def _endpoint_categories(ctx: Context, datasets: Sequence[str]) -> list[str]:
    """Categories the named datasets hold: an application endpoint's declared categories, a
    database's from its dataset file (by the dataset's ``fides_key``)."""
    if ctx.dataset_categories is not None:
        known = ctx.dataset_categories()
        return sorted({c for name in datasets for c in known.get(name, ())})
    found: list[str] = []
    for entry in getattr(ctx.declarations, "datasets", ()):
        if entry.is_http and entry.name in datasets:
            found += list(entry.categories)
    return found


def incident_categories(ctx: Context, record: IncidentRecord) -> list[str]:
    """The declared categories an incident touches."""
    return covered(ctx, [*record.categories, *_endpoint_categories(ctx, record.datasets)])


def acting_principal(who: Principal, tenant: str) -> Principal:
    """The principal acting in an affected tenant: the caller's own tenant, or any tenant
    for the local operator (who holds every scope)."""
    if tenant == who.tenant_id:
        return who
    if not (who.can("tenants.manage") and who.can("subjects.list")):
        raise Forbidden(
            f"this key acts in tenant {who.tenant_id} only; an incident touching tenant "
            f"{tenant} is recorded by the installation's operator (tutela incidents open "
            "--tenant …) or by that tenant's own dpo",
            details={"tenant": tenant},
        )
    return Principal(tenant, who.scopes, who.actor)


def _check_tenants(uow: AbstractUnitOfWork, who: Principal, tenants: Sequence[str]) -> None:
    for tenant in tenants:
        acting_principal(who, tenant)
        if uow.tenants.get(tenant) is None:
            raise NotFound(
                f"no tenant {tenant}; see tutela tenants list", details={"tenant": tenant}
            )


# -- clocks -------------------------------------------------------------------------------


def settings_of(ctx: Context) -> rules.ClockSettings:
    found = ctx.extras.get("incident_clocks")
    return found if isinstance(found, rules.ClockSettings) else rules.ClockSettings()


def assessment_of(record: IncidentRecord) -> rules.Assessment | None:
    data = record.assessment
    if data is None:
        return None
    return rules.Assessment(
        data["likelihood"],
        data["severity"],
        frozenset(data["exemptions"]),
        data["reason"],
        moment(data["at"]),
        data["by"],
    )


def clocks_of(ctx: Context, record: IncidentRecord) -> list[rules.Clock]:
    facts = rules.Facts(
        tuple(getattr(ctx.declarations, "jurisdictions", ())),
        moment(record.aware_at),
        record.encrypted,
        record.approx_subjects,
        assessment_of(record),
        {key: moment(at) for key, at in record.met.items()},
        record.delay_reasons,
    )
    return rules.clocks(facts, settings_of(ctx))


def _clock_keys(ctx: Context, record: IncidentRecord) -> list[str]:
    return [c.key for c in clocks_of(ctx, record)]


# -- views --------------------------------------------------------------------------------


def _iso(value: int | None) -> str | None:
    return None if value is None else rules.iso(moment(value))


def view(ctx: Context, record: IncidentRecord, now: int) -> dict[str, Any]:
    found = clocks_of(ctx, record)
    at = moment(now)
    assessment = assessment_of(record)
    return {
        "id": record.id,
        "tenant": record.tenant_id,
        "state": record.state,
        "summary": record.summary,
        "kinds": list(record.kinds),
        "aware_at": _iso(record.aware_at),
        "began_at": _iso(record.began_at),
        "tenants": list(record.tenants),
        "categories": list(record.categories),
        "datasets": list(record.datasets),
        "approx_subjects": record.approx_subjects,
        "approx_records": record.approx_records,
        "encrypted": record.encrypted,
        "consequences": record.consequences,
        "measures": list(record.measures),
        "advice": list(record.advice),
        "assessment": assessment.as_dict() if assessment else None,
        "clocks": [c.as_dict(at) for c in found if c.running],
        "stopped_clocks": [c.as_dict(at) for c in found if not c.running],
        "created_at": _iso(record.created_at),
        "created_by": record.created_by,
        "updated_at": _iso(record.updated_at),
        "closed_at": _iso(record.closed_at),
    }


def get(
    uow: AbstractUnitOfWork, who: Principal, incident_id: str, *, lock: bool = False
) -> IncidentRecord:
    record = uow.incidents.get(who.tenant_id, incident_id, lock=lock)
    if record is None:
        raise NotFound(
            f"no incident {incident_id} in this tenant; see tutela incidents list",
            details={"incident": incident_id},
        )
    return record


def record_change(
    uow: AbstractUnitOfWork,
    who: Principal,
    record: IncidentRecord,
    kind: str,
    note: str,
    details: dict[str, Any],
    now: int,
) -> None:
    """The timeline entry (with the texts) and the audit entry (without them)."""
    uow.incidents.add_event(record.id, now, who.actor, kind, note, details)
    uow.audit.append(
        AuditEvent(
            f"incident.{kind}",
            who.actor,
            record.tenant_id,
            None,
            (),
            {"incident": record.id} | details,
        ),
        now,
    )


# -- use cases ----------------------------------------------------------------------------


def open_incident(ctx: Context, who: Principal, changes: Changes) -> dict[str, Any]:
    """Record a new incident; its clocks start at the time of awareness (default: now)."""
    who.require("incidents.manage")
    if changes.summary is None:
        raise InvalidInput("an incident needs a summary of what happened (--summary)")
    now = ctx.clock()
    tenants = tuple(dict.fromkeys(changes.tenants or (who.tenant_id,)))
    if tenants[0] != who.tenant_id:
        raise InvalidInput(
            "the first affected tenant is the one the incident is recorded in",
            details={"tenant": tenants[0]},
        )
    record = IncidentRecord(
        tenant_id=who.tenant_id,
        id=ctx.new_id(),
        state=rules.OPEN,
        summary=_text(changes.summary, "summary"),
        aware_at=now,
        created_at=now,
        created_by=who.actor,
        updated_at=now,
        tenants=tenants,
    )
    record = _apply(ctx, record, replace(changes, tenants=None, summary=None), now)
    with ctx.uow() as uow:
        _check_tenants(uow, who, tenants)
        if record.approx_subjects is None:
            counted = sum(
                uow.incidents.count_affected(t, incident_categories(ctx, record)) for t in tenants
            )
            record = replace(record, approx_subjects=counted or None)
        uow.incidents.add(record)
        record_change(
            uow,
            who,
            record,
            "open",
            "incident opened",
            {"tenants": list(tenants), "categories": list(record.categories)},
            now,
        )
        uow.commit()
    return view(ctx, record, now)


def _apply(ctx: Context, record: IncidentRecord, changes: Changes, now: int) -> IncidentRecord:
    updates: dict[str, Any] = {}
    if changes.summary is not None:
        updates["summary"] = _text(changes.summary, "summary")
    if changes.kinds is not None:
        updates["kinds"] = tuple(
            dict.fromkeys(rules.check_choice("kind", k, rules.KINDS) for k in changes.kinds)
        )
    aware = record.aware_at
    if changes.aware_at is not None:
        aware = updates["aware_at"] = parse_time(changes.aware_at, "aware_at", now)
    began = record.began_at
    if changes.began_at is not None:
        began = updates["began_at"] = parse_time(changes.began_at, "began_at", now)
    if began is not None and began > aware:
        raise InvalidInput(
            "began_at is after aware_at: a breach cannot begin after it was detected",
            details={"field": "began_at"},
        )
    if changes.tenants is not None:
        updates["tenants"] = tuple(dict.fromkeys((record.tenant_id, *changes.tenants)))
    if changes.categories is not None:
        updates["categories"] = _check_categories(ctx, changes.categories)
    if changes.datasets is not None:
        updates["datasets"] = tuple(dict.fromkeys(_texts(changes.datasets, "dataset")))
    if changes.approx_subjects is not None:
        updates["approx_subjects"] = _count(changes.approx_subjects, "approx_subjects")
    if changes.approx_records is not None:
        updates["approx_records"] = _count(changes.approx_records, "approx_records")
    if changes.encrypted is not None:
        updates["encrypted"] = changes.encrypted
    if changes.consequences is not None:
        updates["consequences"] = _text(changes.consequences, "consequences")
    if changes.measures:
        updates["measures"] = (*record.measures, *_texts(changes.measures, "measure"))
    if changes.advice:
        updates["advice"] = (*record.advice, *_texts(changes.advice, "advice"))
    return replace(record, **updates)


def update(ctx: Context, who: Principal, incident_id: str, changes: Changes) -> dict[str, Any]:
    """Change what is known about an incident; measures and advice are added."""
    who.require("incidents.manage")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = get(uow, who, incident_id, lock=True)
        rules.require_open(record.state, record.id)
        changed = _apply(ctx, record, changes, now)
        names = [
            name
            for name in IncidentRecord.__dataclass_fields__
            if getattr(changed, name) != getattr(record, name)
        ]
        if not names:
            raise InvalidInput("nothing to change; give at least one new value")
        if changed.encrypted is False and rules.ENCRYPTED in (
            (changed.assessment or {}).get("exemptions", ())
        ):
            raise Conflict(
                "the assessment relies on the data being encrypted with a safe key; assess "
                "the incident again without that exemption first",
                details={"incident": record.id},
            )
        if changes.tenants is not None:
            _check_tenants(uow, who, changed.tenants)
        changed = replace(changed, updated_at=now)
        uow.incidents.save(changed)
        record_change(
            uow, who, changed, "update", f"changed: {', '.join(names)}", {"fields": names}, now
        )
        uow.commit()
    return view(ctx, changed, now)


def note(ctx: Context, who: Principal, incident_id: str, text: str) -> dict[str, Any]:
    """Add a line to the incident's timeline (what was found, decided, done)."""
    who.require("incidents.manage")
    text = _text(text, "note")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = get(uow, who, incident_id, lock=True)
        rules.require_open(record.state, record.id)
        record = replace(record, updated_at=now)
        uow.incidents.save(record)
        record_change(uow, who, record, "note", text, {}, now)
        uow.commit()
    return view(ctx, record, now)


def assess(
    ctx: Context,
    who: Principal,
    incident_id: str,
    likelihood: str,
    severity: str,
    exemptions: Sequence[str],
    reason: str,
) -> dict[str, Any]:
    """Record the risk decision; it decides which clocks run. It may be made again when the
    facts change; the timeline keeps every decision."""
    who.require("incidents.manage")
    reason = _text(reason, "reason")
    level = rules.risk_level(likelihood, severity)
    now = ctx.clock()
    with ctx.uow() as uow:
        record = get(uow, who, incident_id, lock=True)
        rules.require_open(record.state, record.id)
        exempt = rules.check_exemptions(exemptions, record.encrypted)
        assessment = {
            "likelihood": likelihood,
            "severity": severity,
            "exemptions": sorted(exempt),
            "reason": reason,
            "at": now,
            "by": who.actor,
        }
        record = replace(record, assessment=assessment, updated_at=now)
        uow.incidents.save(record)
        running = [c.key for c in clocks_of(ctx, record) if c.running]
        record_change(
            uow,
            who,
            record,
            "assess",
            f"risk {level}: {reason}",
            {
                "likelihood": likelihood,
                "severity": severity,
                "risk": level,
                "exemptions": sorted(exempt),
                "clocks": running,
            },
            now,
        )
        uow.commit()
    return view(ctx, record, now)


def _clock_named(ctx: Context, record: IncidentRecord, key: str) -> rules.Clock:
    for clock in clocks_of(ctx, record):
        if clock.key == key:
            return clock
    raise InvalidInput(
        f"incident {record.id} has no clock {key!r}; its clocks: "
        f"{', '.join(_clock_keys(ctx, record)) or 'none (no jurisdiction declared)'}",
        details={"clock": key},
    )


def authority_notified(
    ctx: Context,
    who: Principal,
    incident_id: str,
    jurisdiction: str | None,
    at: str | None,
    phase: str = "initial",
    reference: str | None = None,
    delay_reason: str | None = None,
) -> dict[str, Any]:
    """Record a report to the authority of a jurisdiction: the first one meets its clock
    (GDPR art. 33(4) allows the rest to follow in phases)."""
    who.require("incidents.manage")
    rules.check_choice("phase", phase, rules.PHASES)
    now = ctx.clock()
    when = now if at is None else parse_time(at, "at", now)
    with ctx.uow() as uow:
        record = get(uow, who, incident_id, lock=True)
        rules.require_open(record.state, record.id)
        authorities = [c for c in clocks_of(ctx, record) if c.audience == rules.AUTHORITY]
        if jurisdiction is None:
            if len(authorities) != 1:
                names = ", ".join(c.jurisdiction for c in authorities) or "none declared"
                raise InvalidInput(
                    f"name the jurisdiction whose authority was told (--jurisdiction): {names}"
                )
            jurisdiction = authorities[0].jurisdiction
        key = f"{rules.check_jurisdiction(jurisdiction)}.{rules.AUTHORITY}"
        clock = _clock_named(ctx, record, key)
        if when < record.aware_at:
            raise InvalidInput("the report cannot be before the time of awareness")
        met = dict(record.met)
        first = key not in met
        if first:
            met[key] = when
        delays = dict(record.delay_reasons)
        if delay_reason is not None:
            delays[key] = _text(delay_reason, "delay_reason")
        record = replace(record, met=met, delay_reasons=delays, updated_at=now)
        uow.incidents.save(record)
        late = clock.due is not None and when > micros(clock.due)
        words = f"reported to the {jurisdiction.upper()} authority ({phase})"
        if reference:
            words += f", reference {_text(reference, 'reference')}"
        record_change(
            uow,
            who,
            record,
            "authority_notified",
            words,
            {"clock": key, "phase": phase, "at": _iso(when), "late": late, "first": first},
            now,
        )
        if delay_reason is not None:
            record_change(uow, who, record, "delay", delays[key], {"clock": key}, now)
        uow.commit()
    return view(ctx, record, now)


def public_notice(
    ctx: Context, who: Principal, incident_id: str, at: str | None, where: str
) -> dict[str, Any]:
    """Record a public communication (GDPR art. 34(3)(c)); it meets the subject clocks that
    allow it."""
    who.require("incidents.manage")
    where = _text(where, "where")
    now = ctx.clock()
    when = now if at is None else parse_time(at, "at", now)
    with ctx.uow() as uow:
        record = get(uow, who, incident_id, lock=True)
        rules.require_open(record.state, record.id)
        met = dict(record.met)
        keys = [
            c.key
            for c in clocks_of(ctx, record)
            if c.audience == rules.SUBJECTS and c.public and c.key not in met
        ]
        for key in keys:
            met[key] = when
        record = replace(record, met=met, updated_at=now)
        uow.incidents.save(record)
        record_change(
            uow,
            who,
            record,
            "public_notice",
            where,
            {"at": _iso(when), "clocks": keys},
            now,
        )
        uow.commit()
    return view(ctx, record, now)


def delay(
    ctx: Context, who: Principal, incident_id: str, clock: str, reason: str
) -> dict[str, Any]:
    """Record the reasons a clock is or was missed (GDPR art. 33(1))."""
    who.require("incidents.manage")
    reason = _text(reason, "reason")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = get(uow, who, incident_id, lock=True)
        rules.require_open(record.state, record.id)
        _clock_named(ctx, record, clock)
        record = replace(
            record, delay_reasons={**record.delay_reasons, clock: reason}, updated_at=now
        )
        uow.incidents.save(record)
        record_change(uow, who, record, "delay", reason, {"clock": clock}, now)
        uow.commit()
    return view(ctx, record, now)


def close(ctx: Context, who: Principal, incident_id: str) -> dict[str, Any]:
    """Close an incident whose every running clock was met (late ones with reasons)."""
    who.require("incidents.manage")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = get(uow, who, incident_id, lock=True)
        rules.require_open(record.state, record.id)
        problems = rules.closing_problems(clocks_of(ctx, record), record.assessment is not None)
        if problems:
            raise Conflict(
                "the incident cannot be closed yet: "
                + "; ".join(problems)
                + " (tutela incidents assess / authority-notified / notify / delay)",
                details={"incident": record.id, "problems": problems},
            )
        record = replace(record, state=rules.CLOSED, closed_at=now, updated_at=now)
        uow.incidents.save(record)
        record_change(uow, who, record, "close", "incident closed", {}, now)
        uow.commit()
    return view(ctx, record, now)


def show(ctx: Context, who: Principal, incident_id: str) -> dict[str, Any]:
    """The incident with its clocks, timeline, affected-subject count and notices."""
    who.require("incidents.read")
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        record = get(uow, who, incident_id)
        timeline = uow.incidents.events(record.id)
        notices = uow.incidents.count_notices(record.id)
    data = view(ctx, record, now)
    data["affected"] = affected(ctx, who, incident_id)["count"]
    data["notices"] = {"queued": notices.get("queued", 0), "no_email": notices.get("no_email", 0)}
    data["timeline"] = [{**event, "at": _iso(event["at"])} for event in timeline]
    return data


def listing(ctx: Context, who: Principal, *, include_closed: bool = False) -> list[dict[str, Any]]:
    """Incidents with the time left on each clock, the most pressing (overdue) first."""
    who.require("incidents.read")
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        records = uow.incidents.listing(who.tenant_id, include_closed)
    at = moment(now)
    keyed = [(rules.urgency(clocks_of(ctx, r), at), r.aware_at, r.id, r) for r in records]
    keyed.sort(key=lambda item: (item[3].state != rules.OPEN, item[0], item[1], item[2]))
    return [view(ctx, r, now) for *_, r in keyed]


def affected(
    ctx: Context, who: Principal, incident_id: str, *, with_ids: bool = False
) -> dict[str, Any]:
    """The subjects the incident touches: a count per tenant, and with ``with_ids`` their
    ids and the affected categories each holds. Never a value: nothing is decrypted."""
    who.require("incidents.read")
    with ctx.uow(read_only=True) as uow:
        record = get(uow, who, incident_id)
    categories = incident_categories(ctx, record)
    per_tenant: dict[str, int] = {}
    subjects: list[dict[str, Any]] = []
    for tenant in record.tenants:
        acting_principal(who, tenant)
        with ctx.uow(read_only=True) as uow:
            per_tenant[tenant] = uow.incidents.count_affected(tenant, categories)
        if with_ids:
            subjects += [
                {"tenant": tenant, "subject_id": s.subject_id, "categories": list(s.categories)}
                for s in _each_affected(ctx, tenant, categories)
            ]
    with ctx.uow() as uow:  # who looked at the list is part of the record
        uow.audit.append(
            AuditEvent(
                "incident.affected",
                who.actor,
                record.tenant_id,
                None,
                (),
                {"incident": record.id, "count": sum(per_tenant.values()), "ids": with_ids},
            ),
            ctx.clock(),
        )
        uow.commit()
    data: dict[str, Any] = {
        "incident": record.id,
        "categories": categories,
        "count": sum(per_tenant.values()),
        "tenants": per_tenant,
    }
    if with_ids:
        data["subjects"] = subjects
    return data


def _each_affected(ctx: Context, tenant: str, categories: Sequence[str]) -> Iterable[Any]:
    after = ""
    while True:
        with ctx.uow(read_only=True) as uow:
            page = uow.incidents.affected_page(tenant, categories, after, 500)
        if not page:
            return
        yield from page
        after = page[-1].subject_id
