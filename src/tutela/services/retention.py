"""Retention sweeps over the vault: plan (a dry run) and sweep (does it).

A sweep walks a tenant's subjects in batches. For each subject it works out which fields
have outlived every rule that applies to them, skips what a legal hold keeps (naming the
hold), deletes the rest, and erases the subject entirely — crypto-shredding its key — when
nothing is left. Each subject's change is its own transaction with its audit entry (field
names, no values), and each batch adds one evidence entry per rule (counts), so a sweep
stopped half-way simply continues on the next run.

In the vault, ``anonymize`` removes the field like ``delete``: vault rows exist to be
identified, so there is nothing anonymous to keep there. Anonymized derivatives belong in
the application's datasets, where the erasure strategies (generalize, hash, redact) apply.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.retention import Events, Expiry, Rule, expiry
from tutela.domain.subjects import CLOSED, ERASED
from tutela.services import holds, vault
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork, Hold, SubjectRecord

Progress = Callable[[int], None]
BATCH = 200


@dataclass
class Report:
    tenant: str
    subjects: int = 0
    due: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (category, rule, then)
    held: Counter[tuple[str, str]] = field(default_factory=Counter)  # (category, hold id)
    erased_subjects: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "subjects_checked": self.subjects,
            "due": [
                {"category": c, "rule": r, "then": t, "fields": n}
                for (c, r, t), n in sorted(self.due.items())
            ],
            "held": [
                {"category": c, "hold": h, "fields": n} for (c, h), n in sorted(self.held.items())
            ],
            "subjects_erased": self.erased_subjects,
        }


def rules_by_category(ctx: Context, tenant_id: str) -> dict[str, list[Rule]]:
    """The rules of each category in this tenant. Tenant-configurable purposes use the
    period the tenant's administrator set at run time, else the declarations' choice for the
    tenant, else the purpose's ``keep`` (see ``services.tenant_retention``)."""
    from tutela.declarations.durations import parse_duration
    from tutela.services.tenant_retention import periods

    in_force = periods(ctx, tenant_id)
    found: dict[str, list[Rule]] = {}
    for purpose in getattr(ctx.declarations, "purposes", ()):
        retention = purpose.retention
        if retention is None:
            continue
        keep_text = in_force[purpose.key].keep
        duration = parse_duration(keep_text)
        rule = Rule(purpose.key, duration.add_to, keep_text, retention.after, retention.then)
        for category in purpose.categories:
            found.setdefault(category, []).append(rule)
    return found


def _events(uow: AbstractUnitOfWork, record: SubjectRecord) -> Events:
    states = uow.consent.states(record.tenant_id, record.id)
    withdrawn = {p: s.at for p, s in states.items() if s.status in ("withdrawn", "refused")}
    last = max([record.updated_at, *(s.at for s in states.values())])
    return Events(last, closed_at(record), withdrawn)


def closed_at(record: SubjectRecord) -> int | None:
    """When the subject's account was closed: ``closed_at``, recorded when it is closed; for
    accounts closed before Tutela recorded it, the subject's last change (``updated_at``)."""
    if record.status != CLOSED:
        return None
    return record.closed_at if record.closed_at is not None else record.updated_at


def _now(ctx: Context) -> dt.datetime:
    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC)


def _decide(
    ctx: Context,
    uow: AbstractUnitOfWork,
    record: SubjectRecord,
    rules: dict[str, list[Rule]],
    kept_by: Sequence[Hold],
    report: Report,
) -> tuple[list[str], list[Expiry], bool]:
    """(categories to remove, their expiries, whether nothing would remain)."""
    stored = uow.subjects.fields(record.tenant_id, record.id)
    events = _events(uow, record)
    now = _now(ctx)
    remove: list[str] = []
    reasons: list[Expiry] = []
    for item in stored:
        found = expiry(
            item.category,
            item.updated_at or record.created_at,
            rules.get(item.category, ()),
            events,
            now,
        )
        if found is None or not found.due:
            continue
        hold = holds.blocking(kept_by, record.id, item.category)
        if hold is not None:
            report.held[(item.category, hold.id)] += 1
            continue
        report.due[(item.category, found.rule, found.then)] += 1
        remove.append(item.category)
        reasons.append(found)
    return remove, reasons, bool(stored) and len(remove) == len(stored)


def run(
    ctx: Context, who: Principal, *, apply: bool, progress: Progress | None = None
) -> dict[str, Any]:
    """Plan (``apply=False``) or sweep one tenant's vault."""
    who.require("subjects.erase")
    tenant = who.tenant_id
    rules = rules_by_category(ctx, tenant)
    report = Report(tenant)
    after: tuple[int, str] | None = None
    while True:
        with ctx.uow(read_only=not apply) as uow:
            page = [r for r, _names in uow.subjects.page(tenant, after, BATCH)]
            if not page:
                break
            after = (page[-1].created_at, page[-1].id)
            kept_by = holds.in_force(ctx, uow, tenant, [r.id for r in page])
            work = []
            for record in page:
                if record.status == ERASED:
                    continue
                report.subjects += 1
                remove, reasons, everything = _decide(ctx, uow, record, rules, kept_by, report)
                if remove:
                    work.append((record, remove, reasons, everything))
        if apply and work:
            _apply(ctx, who, work, report)
        if progress is not None:
            progress(len(page))
    data = report.as_dict()
    data["applied"] = apply
    return data


def _apply(
    ctx: Context,
    who: Principal,
    work: list[tuple[SubjectRecord, list[str], list[Expiry], bool]],
    report: Report,
) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    for record, remove, reasons, everything in work:
        if everything:
            vault.erase(ctx, who, record.id, "retention period ended")
            report.erased_subjects += 1
        else:
            vault.update(ctx, who, record.id, dict.fromkeys(remove), activity=False)
        for reason in reasons:
            counts[(reason.rule, reason.then)] += 1
    now = ctx.clock()
    with ctx.uow() as uow:
        for (rule, then), fields in sorted(counts.items()):
            uow.audit.append(
                AuditEvent(
                    "retention.sweep",
                    who.actor,
                    who.tenant_id,
                    None,
                    (),
                    {"rule": rule, "then": then, "fields": fields},
                ),
                now,
            )
        uow.commit()
