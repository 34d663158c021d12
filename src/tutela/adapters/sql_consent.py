"""The consent ledger, folded states, subject standing and the decision change feed in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from tutela.adapters.tables import (
    consent_events,
    consent_renewals,
    consent_state,
    consent_subjects,
    decision_changes,
    jobs,
    subjects,
)
from tutela.domain.consent import PurposeConsent
from tutela.domain.subjects import ACTIVE
from tutela.services.ports import AbstractConsentRepository, ConsentRecord, Standing

_EVENT_COLUMNS = (
    consent_events.c.id,
    consent_events.c.tenant_id,
    consent_events.c.subject_id,
    consent_events.c.purpose,
    consent_events.c.action,
    consent_events.c.at,
    consent_events.c.by,
    consent_events.c.bundled,
    consent_events.c.method,
    consent_events.c.jurisdiction,
    consent_events.c.language,
    consent_events.c.policy_version,
    consent_events.c.guardian_ref,
    consent_events.c.guardian_verified_by,
    consent_events.c.user_agent,
    consent_events.c.ip_hash,
    consent_events.c.receipt,
    consent_events.c.seq,
)
_STATES = select(
    consent_state.c.purpose,
    consent_state.c.status,
    consent_state.c.by_subject,
    consent_state.c.by_guardian,
    consent_state.c.separate,
    consent_state.c.seq,
    consent_state.c.at,
    consent_state.c.policy_version,
).where(consent_state.c.tenant_id == bindparam("t"), consent_state.c.subject_id == bindparam("s"))
_STANDING = select(
    consent_subjects.c.minor_until, consent_subjects.c.restricted, consent_subjects.c.objections
).where(
    consent_subjects.c.tenant_id == bindparam("t"), consent_subjects.c.subject_id == bindparam("s")
)


def _save_state(dialect: Any) -> Any:
    """The conditional upsert of a folded state, built once per dialect: ledger order wins,
    whatever the commit order of concurrent writers."""
    stmt = dialect.insert(consent_state)
    kept = ("subject_id", "purpose")
    return stmt.on_conflict_do_update(
        index_elements=[consent_state.c.subject_id, consent_state.c.purpose],
        set_={c.name: stmt.excluded[c.name] for c in consent_state.c if c.name not in kept},
        where=consent_state.c.seq < stmt.excluded.seq,
    )


_SAVE_STATE = {False: _save_state(sqlite), True: _save_state(postgresql)}


def _record(row: Sequence[Any]) -> ConsentRecord:
    values = list(row)
    for index in (12, 15):  # guardian_ref, ip_hash
        if values[index] is not None:
            values[index] = bytes(values[index])
    values[7] = bool(values[7])
    return ConsentRecord(*values)


class SqlConsentRepository(AbstractConsentRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._dialect = postgresql if conn.dialect.name == "postgresql" else sqlite

    def append(self, record: ConsentRecord) -> int:
        values = {c.name: getattr(record, c.name) for c in _EVENT_COLUMNS if c.name != "seq"}
        result = self._conn.execute(insert(consent_events).returning(consent_events.c.seq), values)
        return int(result.scalar_one())

    def save_state(self, tenant_id: str, subject_id: str, purpose: str, state: Any) -> None:
        assert isinstance(state, PurposeConsent)
        self._conn.execute(
            _SAVE_STATE[self._conn.dialect.name == "postgresql"],
            {
                "tenant_id": tenant_id,
                "subject_id": subject_id,
                "purpose": purpose,
                "status": state.status,
                "by_subject": state.by_subject,
                "by_guardian": state.by_guardian,
                "separate": state.separate,
                "seq": state.seq,
                "at": state.at,
                "policy_version": state.policy_version,
            },
        )

    def deciders(
        self, tenant_id: str, subject_ids: Sequence[str], purposes: Sequence[str]
    ) -> set[str]:
        if not subject_ids or not purposes:
            return set()
        query = (
            select(consent_state.c.subject_id)
            .where(
                consent_state.c.tenant_id == tenant_id,
                consent_state.c.subject_id.in_(list(subject_ids)),
                consent_state.c.purpose.in_(list(purposes)),
            )
            .distinct()
        )
        return {str(sid) for (sid,) in self._conn.execute(query)}

    def states(self, tenant_id: str, subject_id: str) -> dict[str, Any]:
        rows = self._conn.execute(_STATES, {"t": tenant_id, "s": subject_id})
        return {
            r[0]: PurposeConsent(
                r[1], bool(r[2]), bool(r[3]), bool(r[4]), int(r[5]), int(r[6]), r[7]
            )
            for r in rows
        }

    def events(self, tenant_id: str, subject_id: str) -> list[ConsentRecord]:
        query = (
            select(*_EVENT_COLUMNS)
            .where(
                consent_events.c.tenant_id == tenant_id,
                consent_events.c.subject_id == subject_id,
            )
            .order_by(consent_events.c.seq)
        )
        return [_record(r) for r in self._conn.execute(query)]

    def event(self, tenant_id: str, record_id: str) -> ConsentRecord | None:
        query = select(*_EVENT_COLUMNS).where(
            consent_events.c.tenant_id == tenant_id, consent_events.c.id == record_id
        )
        row = self._conn.execute(query).first()
        return None if row is None else _record(row)

    def standing(self, tenant_id: str, subject_id: str) -> Standing | None:
        row = self._conn.execute(_STANDING, {"t": tenant_id, "s": subject_id}).first()
        if row is None:
            return None
        minor = row[0]
        if isinstance(minor, str):
            minor = dt.date.fromisoformat(minor)
        objections = frozenset(x for x in (row[2] or "").split(",") if x)
        return Standing(minor, bool(row[1]), objections)

    def save_standing(self, tenant_id: str, subject_id: str, standing: Standing) -> None:
        values = {
            "tenant_id": tenant_id,
            "subject_id": subject_id,
            "minor_until": standing.minor_until,
            "restricted": standing.restricted,
            "objections": ",".join(sorted(standing.objections)),
        }
        stmt = self._dialect.insert(consent_subjects).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[consent_subjects.c.subject_id],
            set_={k: stmt.excluded[k] for k in ("minor_until", "restricted", "objections")},
        )
        self._conn.execute(stmt)

    def note_change(self, tenant_id: str, subject_id: str, now: int) -> None:
        self._conn.execute(
            insert(decision_changes), {"tenant_id": tenant_id, "subject_id": subject_id, "at": now}
        )

    def changes_since(self, seq: int, gaps: Sequence[int]) -> list[tuple[int, str, str]]:
        condition = decision_changes.c.seq > seq
        if gaps:
            condition = or_(condition, decision_changes.c.seq.in_(list(gaps)))
        query = (
            select(
                decision_changes.c.seq, decision_changes.c.tenant_id, decision_changes.c.subject_id
            )
            .where(condition)
            .order_by(decision_changes.c.seq)
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in self._conn.execute(query)]

    def last_change(self) -> int:
        value = self._conn.execute(select(func.max(decision_changes.c.seq))).scalar()
        return int(value or 0)

    def renewals(self) -> dict[str, int]:
        query = select(consent_renewals.c.purpose, consent_renewals.c.at)
        return {str(p): int(v) for p, v in self._conn.execute(query)}

    def require_renewal(self, purpose: str, since_version: int, actor: str, now: int) -> None:
        values = {"purpose": purpose, "since_version": since_version, "at": now, "actor": actor}
        stmt = self._dialect.insert(consent_renewals).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[consent_renewals.c.purpose],
            set_={k: stmt.excluded[k] for k in ("since_version", "at", "actor")},
        )
        self._conn.execute(stmt)

    def enqueue(
        self,
        kind: str,
        tenant_id: str,
        subject_id: str,
        payload: str,
        now: int,
        run_after: int | None = None,
    ) -> None:
        self._conn.execute(
            insert(jobs),
            {
                "kind": kind,
                "tenant_id": tenant_id,
                "subject_id": subject_id,
                "payload": payload,
                "state": "queued",
                "created_at": now,
                "run_after": now if run_after is None else run_after,
                "attempts": 0,
            },
        )

    def statistics(self, tenant_id: str) -> tuple[int, dict[str, dict[str, int]]]:
        active = subjects.c.status == ACTIVE
        total = self._conn.execute(
            select(func.count()).where(subjects.c.tenant_id == tenant_id, active)
        ).scalar_one()
        query = (
            select(consent_state.c.purpose, consent_state.c.status, func.count())
            .join(subjects, subjects.c.id == consent_state.c.subject_id)
            .where(consent_state.c.tenant_id == tenant_id, active)
            .group_by(consent_state.c.purpose, consent_state.c.status)
        )
        counts: dict[str, dict[str, int]] = {}
        for purpose, status, number in self._conn.execute(query):
            counts.setdefault(str(purpose), {})[str(status)] = int(number)
        return int(total), counts
