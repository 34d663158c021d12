"""Retention sweeps over the vault: plan (a dry run) and sweep (does it).

A sweep walks a tenant's subjects in batches. For each subject it works out which fields
have outlived every rule that applies to them, skips what a legal hold keeps (naming the
hold), deletes the rest, and erases the subject entirely — crypto-shredding its key — when
nothing is left. Each batch is one transaction: the deletions, an audit entry per subject
(field names, no values) and one evidence entry per rule (counts), so a sweep stopped
half-way has finished the batches it reached and simply continues on the next run. A field
rewritten since it was read is not deleted.

In the vault, ``anonymize`` removes the field like ``delete``: vault rows exist to be
identified, so there is nothing anonymous to keep there. Anonymized derivatives belong in
the application's datasets, where the erasure strategies (generalize, null, redact) apply.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tutela.domain import identities
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.retention import Deadlines, Events, Expiry, Rule, Timed
from tutela.domain.subjects import CLOSED, ERASED
from tutela.services import dataset_retention, holds
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork, Hold, SubjectRecord
from tutela.services.purpose_endings import by_subject, ended_for

Progress = Callable[[int], None]
#: subjects per transaction
BATCH = 2000
REASON = "retention period ended"
#: rules whose start needs the subject's consent events
_CONSENT_EVENTS = frozenset({"last_activity", "consent_withdrawn"})


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
        length = int(duration.approx_days() * 86400 * 1_000_000)
        rule = Rule(
            purpose.key, duration.add_to, keep_text, retention.after, retention.then, length
        )
        for category in purpose.categories:
            found.setdefault(category, []).append(rule)
    return found


def _events(
    uow: AbstractUnitOfWork, record: SubjectRecord, ended: dict[str, int], consent: bool
) -> Events:
    """The subject's events; its consent states are read only when a rule needs them."""
    if not consent:
        return Events(record.updated_at, closed_at(record), None, ended)
    states = uow.consent.states(record.tenant_id, record.id)
    withdrawn = {p: s.at for p, s in states.items() if s.status in ("withdrawn", "refused")}
    last = max([record.updated_at, *(s.at for s in states.values())])
    return Events(last, closed_at(record), withdrawn, ended)


def closed_at(record: SubjectRecord) -> int | None:
    """When the subject's account was closed: ``closed_at``, recorded when it is closed; for
    accounts closed before Tutela recorded it, the subject's last change (``updated_at``)."""
    if record.status != CLOSED:
        return None
    return record.closed_at if record.closed_at is not None else record.updated_at


def now_of(ctx: Context) -> dt.datetime:
    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC)


@dataclass(frozen=True)
class _Work:
    """What a sweep does to one subject: fields to remove (with the time each was written,
    so that one rewritten meanwhile stays), why, and whether nothing remains."""

    record: SubjectRecord
    remove: list[tuple[str, int]]
    reasons: list[Expiry]
    everything: bool
    names: list[str]


@dataclass
class _Page:
    """One batch of subjects, read once: fields with their times, holds, purpose endings."""

    ctx: Context
    uow: AbstractUnitOfWork
    timed: dict[str, Timed]
    consent_rules: frozenset[str]  # categories with a rule that needs consent events
    kept_by: Sequence[Hold]
    endings: dict[str, dict[str, int]]

    def decide(
        self, record: SubjectRecord, stored: list[tuple[str, int]], report: Report
    ) -> _Work | None:
        consent = bool(self.consent_rules) and any(c in self.consent_rules for c, _ in stored)
        events = _events(self.uow, record, ended_for(self.endings, record.id), consent)
        remove: list[tuple[str, int]] = []
        reasons: list[Expiry] = []
        for category, written in stored:
            timed = self.timed.get(category)
            found = None if timed is None else timed.due(written or record.created_at, events)
            if found is None:
                continue
            hold = holds.blocking(self.kept_by, record.id, category) if self.kept_by else None
            if hold is not None:
                report.held[(category, hold.id)] += 1
                continue
            report.due[(category, found.rule, found.then)] += 1
            remove.append((category, written))
            reasons.append(found)
        if not remove:
            return None
        everything = len(remove) == len(stored)
        return _Work(record, remove, reasons, everything, [c for c, _ in stored])


def run(
    ctx: Context, who: Principal, *, apply: bool, progress: Progress | None = None
) -> dict[str, Any]:
    """Plan (``apply=False``) or sweep one tenant: the connected datasets first (their rows
    are tied to subjects through the vault's identities), then the vault."""
    who.require("subjects.erase")
    tenant = who.tenant_id
    rules = rules_by_category(ctx, tenant)
    deadlines = Deadlines(now_of(ctx))
    datasets = dataset_retention.sweep(ctx, who, rules, deadlines, apply=apply, progress=progress)
    report = Report(tenant)
    _sweep_vault(ctx, who, rules, deadlines, report, apply=apply, progress=progress)
    data = report.as_dict()
    data.update(datasets)
    data["applied"] = apply
    return data


def _sweep_vault(
    ctx: Context,
    who: Principal,
    rules: dict[str, list[Rule]],
    deadlines: Deadlines,
    report: Report,
    *,
    apply: bool,
    progress: Progress | None,
) -> None:
    tenant = who.tenant_id
    consent_rules = frozenset(
        c for c, found in rules.items() if any(r.after in _CONSENT_EVENTS for r in found)
    )
    timed = {category: deadlines.of(category, found) for category, found in rules.items()}
    after: tuple[int, str] | None = None
    while True:
        with ctx.uow(read_only=not apply) as uow:
            rows = uow.subjects.page_fields(tenant, after, BATCH)
            if not rows:
                break
            after = (rows[-1][0].created_at, rows[-1][0].id)
            ids = [record.id for record, _ in rows]
            page = _Page(
                ctx,
                uow,
                timed,
                consent_rules,
                holds.in_force(ctx, uow, tenant, ids),
                by_subject(uow.lifecycle.purpose_endings(tenant, subject_ids=ids)),
            )
            work = []
            for record, stored in rows:
                if record.status == ERASED:
                    continue
                report.subjects += 1
                found = page.decide(record, stored, report)
                if found is not None:
                    work.append(found)
            if apply and work:
                _apply(ctx, uow, who, work, report)
                uow.commit()
        if apply and work and ctx.decisions is not None:
            for item in work:
                ctx.decisions.invalidate(tenant, item.record.id)
        if progress is not None:
            progress(len(rows))


def _apply(
    ctx: Context, uow: AbstractUnitOfWork, who: Principal, work: list[_Work], report: Report
) -> None:
    """Remove the due fields of one batch, erase the subjects left with nothing, and write
    the audit entries, in the caller's transaction."""
    tenant = who.tenant_id
    now = ctx.clock()
    erased = [item.record.id for item in work if item.everything]
    partial = [item for item in work if not item.everything]
    removals = [(item.record.id, c, at) for item in partial for c, at in item.remove]
    lookups = [
        (item.record.id, identities.kind_of(c))
        for item in partial
        for c, _ in item.remove
        if _is_identity(ctx, c)
    ]
    uow.subjects.remove_fields(tenant, removals, lookups)
    if erased:
        uow.subjects.erase_many(tenant, erased, now)
    events = [
        AuditEvent(
            "subject.erase" if item.everything else "subject.update",
            who.actor,
            tenant,
            item.record.id,
            item.names if item.everything else [c for c, _ in item.remove],
            {"reason": REASON}
            if item.everything
            else {"removed": sorted(c for c, _ in item.remove), "reason": REASON},
        )
        for item in work
    ]
    counts: Counter[tuple[str, str]] = Counter()
    for item in work:
        for reason in item.reasons:
            counts[(reason.rule, reason.then)] += 1
    events.extend(
        AuditEvent(
            "retention.sweep",
            who.actor,
            tenant,
            None,
            (),
            {"rule": rule, "then": then, "fields": fields},
        )
        for (rule, then), fields in sorted(counts.items())
    )
    uow.audit.append_many(events, now)
    if erased:
        ctx.keys.delete_many(erased)  # the point of no return: every copy becomes unreadable
    report.erased_subjects += len(erased)


def _is_identity(ctx: Context, category: str) -> bool:
    declared = ctx.declarations.category(category)
    return bool(getattr(declared, "identity", False))
