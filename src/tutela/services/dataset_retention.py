"""Retention sweeps over the connected datasets (the application's own databases).

For every collection a dataset entry names under ``retention``, children before the
parents they point at, the service works out the rules of the collection's personal data
categories (each category's own rules, or those of the nearest declared category above it;
tenant-set periods included) and asks the store to sweep it:

* when every rule counts from ``collected`` or from a tenant-wide purpose ending, and no
  legal hold on a subject could touch the collection's rows, one verdict fits every row
  dated up to a cutoff, and the store can work set-based;
* otherwise the store reads the due rows in batches and this service judges each row: its
  subject is found through the row's identities (blind index, never decrypting), and the
  subject's events (account closed, last activity, consent withdrawn, purpose ended) start
  the rules that count from them; a row whose subject Tutela does not know keeps the data
  such rules cover.

Holds: a tenant-wide hold keeps every dataset row; a hold on a category keeps the rows of
the collections holding that category (or one above or below it); a hold on a subject keeps
that subject's rows, and while one is in force, rows other rows point at are left as they
are. Each batch's evidence (``retention.sweep``: dataset, collection, rule, then, rows
deleted and anonymized — counts only) is in the audit log before the batch commits.

Sweeps of the datasets run with the sweep of the platform's default tenant
(``tenancy.default_tenant``): the application's databases are the platform's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tutela.datasets.retention import (
    IDENTITY_KINDS,
    NOT_DUE,
    SUBJECT_EVENTS,
    AbstractRetentionStore,
    Due,
    RowFacts,
    SweptCollection,
    Tally,
    Verdict,
    covering,
)
from tutela.domain import identities
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import ConfigurationError, InvalidInput
from tutela.domain.retention import Deadlines, Events, Rule, Timed
from tutela.services import holds
from tutela.services.context import Context
from tutela.services.ports import EVERY_SUBJECT, AbstractUnitOfWork, Hold, SubjectRecord
from tutela.services.purpose_endings import by_subject, ended_for

Progress = Callable[[int], None]
_CONSENT_EVENTS = frozenset({"last_activity", "consent_withdrawn"})


@dataclass
class DatasetReport:
    done: Counter[tuple[str, str, str, str, str]] = field(default_factory=Counter)
    held: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    kept: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, dataset: str, collection: str, tally: Tally) -> None:
        for (rule, then), rows in tally.deleted.items():
            self.done[(dataset, collection, rule, then, "deleted")] += rows
        for (rule, then), rows in tally.anonymized.items():
            self.done[(dataset, collection, rule, then, "anonymized")] += rows
        for hold, rows in tally.held.items():
            self.held[(dataset, collection, hold)] += rows
        for reason, rows in tally.kept.items():
            self.kept[(dataset, collection, reason)] += rows

    def as_dict(self) -> dict[str, Any]:
        lines: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for (dataset, collection, rule, then, outcome), rows in sorted(self.done.items()):
            line = lines.setdefault(
                (dataset, collection, rule, then),
                {
                    "dataset": dataset,
                    "collection": collection,
                    "rule": rule,
                    "then": then,
                    "deleted": 0,
                    "anonymized": 0,
                },
            )
            line[outcome] += rows
        return {
            "datasets": list(lines.values()),
            "datasets_held": [
                {"dataset": d, "collection": c, "hold": h, "rows": n}
                for (d, c, h), n in sorted(self.held.items())
            ],
            "datasets_kept": [
                {"dataset": d, "collection": c, "reason": r, "rows": n}
                for (d, c, r), n in sorted(self.kept.items())
            ],
        }


def platform_tenant(ctx: Context) -> str:
    tenancy = getattr(ctx.declarations, "tenancy", None)
    return str(getattr(tenancy, "default_tenant", "default"))


def stores(ctx: Context) -> list[AbstractRetentionStore]:
    connectors = ctx.connectors() if ctx.connectors is not None else []
    return [store for c in connectors if (store := c.retention_store()) is not None]


def sweep(
    ctx: Context,
    who: Principal,
    rules: Mapping[str, list[Rule]],
    deadlines: Deadlines,
    *,
    apply: bool,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Plan or sweep every connected dataset's declared collections (see the module)."""
    report = DatasetReport()
    found = stores(ctx) if who.tenant_id == platform_tenant(ctx) and ctx.connectors else []
    if not found:
        return report.as_dict()
    for store in found:
        problems = store.problems()
        if problems:
            listed = "; ".join(str(p) for p in problems[:5])
            raise ConfigurationError(
                f"retention of {store.name} does not fit the database, nothing of it was "
                f"changed: {listed}",
                details={"dataset": store.name, "problems": [str(p) for p in problems]},
            )
    with ctx.uow(read_only=True) as uow:
        in_force = holds.in_force(ctx, uow, who.tenant_id)
        endings = by_subject(uow.lifecycle.purpose_endings(who.tenant_id))
    sweeper = _Sweeper(ctx, who, rules, deadlines, in_force, endings)
    for store in found:
        for collection in store.collections():
            due = sweeper.due(collection)
            if due is None:
                continue
            tally = store.sweep(
                due,
                apply=apply,
                evidence=sweeper.evidence(store.name, collection.name) if apply else None,
                progress=progress,
            )
            report.add(store.name, collection.name, tally)
    return report.as_dict()


@dataclass
class _Sweeper:
    ctx: Context
    who: Principal
    rules: Mapping[str, list[Rule]]
    deadlines: Deadlines
    in_force: list[Hold]
    endings: dict[str, dict[str, int]]

    def collection_rules(self, collection: SweptCollection) -> list[Rule] | None:
        """Every rule of the collection's categories; ``None`` when a category has none
        (its rows are never due, as a category no rule covers)."""
        taxonomy = getattr(self.ctx.declarations, "taxonomy", None)
        parents = {e.key: e.parent for e in taxonomy.categories} if taxonomy else {}
        found: list[Rule] = []
        for category in collection.categories:
            key = covering(category, self.rules, parents)
            if key is None:
                return None
            found.extend(rule for rule in self.rules[key] if rule not in found)
        return found

    def due(self, collection: SweptCollection) -> Due | None:
        rules = self.collection_rules(collection)
        if not rules:
            return None
        subject_holds = [h for h in self.in_force if h.subject_id is not None]
        keep_referenced = bool(subject_holds)
        hold = self._hold(collection)
        collected = [r for r in rules if r.after == "collected"]
        cutoff_micros = min((self.deadlines.latest_start(r) for r in collected), default=None)
        cutoff = None if cutoff_micros is None else _moment(cutoff_micros)
        per_subject = any(
            r.after in SUBJECT_EVENTS
            or (r.after == "purpose_ended" and self._subject_endings(r.purpose))
            for r in rules
        )
        one_then = len({r.then for r in rules}) == 1
        if one_then and not per_subject and not (subject_holds and collection.linked):
            verdict = self._constant(rules)
            if verdict is None:
                return None
            if hold is not None:
                verdict = Verdict(verdict.rule, verdict.then, hold.id)
            return Due(collection.name, cutoff, verdict=verdict, keep_referenced=keep_referenced)
        timed = self.deadlines.of(collection.name, rules)
        judge = _Judge(self, timed, rules, hold, subject_holds)
        return Due(collection.name, cutoff, judge=judge, keep_referenced=keep_referenced)

    def _hold(self, collection: SweptCollection) -> Hold | None:
        """A hold on the whole tenant, or on a category the collection holds."""
        for hold in self.in_force:
            if hold.subject_id is not None:
                continue
            if hold.category is None or any(
                _related(hold.category, category) for category in collection.categories
            ):
                return hold
        return None

    def _subject_endings(self, purpose: str) -> bool:
        return any(
            purpose in ended for subject, ended in self.endings.items() if subject != EVERY_SUBJECT
        )

    def _constant(self, rules: Sequence[Rule]) -> Verdict | None:
        """The verdict of every row dated up to the cutoff, when no rule needs the row's
        subject; ``None`` when some rule has not started or not ended for any row."""
        tenant_wide = self.endings.get(EVERY_SUBJECT, {})
        for rule in rules:
            if rule.after == "purpose_ended":
                ended = tenant_wide.get(rule.purpose)
                if ended is None or ended > self.deadlines.latest_start(rule):
                    return None
        last = max(rules, key=lambda r: r.length)  # the longest; every rule has one then
        return Verdict(last.purpose, last.then)

    def evidence(self, dataset: str, collection: str) -> Callable[[Tally], None]:
        who = self.who

        def write(tally: Tally) -> None:
            outcomes = sorted(set(tally.deleted) | set(tally.anonymized))
            events = [
                AuditEvent(
                    "retention.sweep",
                    who.actor,
                    who.tenant_id,
                    None,
                    (),
                    {
                        "dataset": dataset,
                        "collection": collection,
                        "rule": rule,
                        "then": then,
                        "deleted": tally.deleted[(rule, then)],
                        "anonymized": tally.anonymized[(rule, then)],
                    },
                )
                for rule, then in outcomes
            ]
            if not events:
                return
            with self.ctx.uow() as uow:
                uow.audit.append_many(events, self.ctx.clock())
                uow.commit()

        return write


class _Judge:
    """Decides a batch of rows: finds each row's subject by its identities (blind index),
    reads the subjects' events, and applies the collection's rules. Nothing is remembered
    from one batch to the next, so memory does not grow with the table."""

    def __init__(
        self,
        sweeper: _Sweeper,
        timed: Timed,
        rules: Sequence[Rule],
        hold: Hold | None,
        subject_holds: Sequence[Hold],
    ) -> None:
        self.sweeper = sweeper
        self.timed = timed
        self.hold = hold
        self.subject_holds = subject_holds
        self.subject_events = any(r.after in SUBJECT_EVENTS for r in rules)
        self.needs_consent = any(r.after in _CONSENT_EVENTS for r in rules)
        self.dated = any(r.after == "collected" for r in rules)
        region = getattr(sweeper.ctx.declarations, "default_phone_region", None)
        self.region = str(region) if region else None

    def __call__(self, facts: Sequence[RowFacts]) -> list[Verdict]:
        wanted = {key for row in facts for key in self._keys(row.identities) if key is not None}
        subjects, events = self._subjects(wanted) if wanted else ({}, {})
        verdicts = []
        for row in facts:
            ids = {subjects.get(key) for key in self._keys(row.identities) if key is not None}
            ids.discard(None)
            verdicts.append(self._verdict(row, sorted(i for i in ids if i), events))
        return verdicts

    def _verdict(self, row: RowFacts, subject_ids: list[str], events: dict[str, Events]) -> Verdict:
        if row.dated is None and self.dated:
            return NOT_DUE
        collected = row.dated if row.dated is not None else 0
        if not subject_ids:  # rules counted from the subject's events have not started
            if self.subject_events:
                return NOT_DUE
            tenant_wide = self.sweeper.endings.get(EVERY_SUBJECT, {})
            found = self.timed.due(collected, Events(0, None, None, tenant_wide))
            return NOT_DUE if found is None else self._held(Verdict(found.rule, found.then), [])
        verdict: Verdict | None = None
        for subject_id in subject_ids:
            found = self.timed.due(collected, events[subject_id])
            if found is None:
                return NOT_DUE
            verdict = verdict or Verdict(found.rule, found.then)
        assert verdict is not None
        return self._held(verdict, subject_ids)

    def _held(self, verdict: Verdict, subject_ids: list[str]) -> Verdict:
        if self.hold is not None:
            return Verdict(verdict.rule, verdict.then, self.hold.id)
        for hold in self.subject_holds:
            if hold.subject_id in subject_ids:
                return Verdict(verdict.rule, verdict.then, hold.id)
        return verdict

    def _keys(self, found: Iterable[tuple[str, str]]) -> list[tuple[str, str] | None]:
        keys: list[tuple[str, str] | None] = []
        for name, value in found:
            kind = IDENTITY_KINDS.get(name)
            if kind is None:
                continue
            try:
                if kind == "email":
                    keys.append((kind, identities.normalize_email(value)))
                else:
                    keys.append((kind, identities.normalize_phone(value, self.region)))
            except InvalidInput:
                keys.append(None)  # not an address Tutela could have registered
        return keys

    def _subjects(
        self, wanted: set[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], str], dict[str, Events]]:
        ctx, tenant = self.sweeper.ctx, self.sweeper.who.tenant_id
        digests = {key: ctx.crypto.index(tenant, key[0], key[1]) for key in wanted}
        subjects: dict[tuple[str, str], str] = {}
        with ctx.uow(read_only=True) as uow:
            for kind in {key[0] for key in wanted}:
                mine = {d: key for key, d in digests.items() if key[0] == kind}
                for digest, subject_id in uow.subjects.find_many(tenant, kind, list(mine)).items():
                    subjects[mine[digest]] = subject_id
            records = uow.subjects.get_many(tenant, sorted(set(subjects.values())))
            events = {r.id: self._events(uow, r) for r in records}
        return subjects, events

    def _events(self, uow: AbstractUnitOfWork, record: SubjectRecord) -> Events:
        from tutela.services.retention import closed_at

        ended = ended_for(self.sweeper.endings, record.id)
        if not self.needs_consent:
            return Events(record.updated_at, closed_at(record), None, ended)
        states = uow.consent.states(record.tenant_id, record.id)
        withdrawn = {p: s.at for p, s in states.items() if s.status in ("withdrawn", "refused")}
        last = max([record.updated_at, *(s.at for s in states.values())])
        return Events(last, closed_at(record), withdrawn, ended)


def _related(first: str, second: str) -> bool:
    """One category is the other or lies under it."""
    return first == second or first.startswith(second + ".") or second.startswith(first + ".")


def _moment(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)
