"""The worker's schedules and follow-up jobs, and legal holds, in SQL.

Claims use ``FOR UPDATE SKIP LOCKED`` (PostgreSQL): several workers never take the same
slot or job. SQLite has one writer at a time and Tutela runs one worker on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tutela.adapters.sql_sets import one_of, values
from tutela.adapters.tables import (
    decision_changes,
    jobs,
    legal_holds,
    purpose_endings,
    rate_events,
    schedules,
)
from tutela.services.ports import (
    EVERY_SUBJECT,
    AbstractLifecycleRepository,
    Hold,
    PurposeEnding,
)


class SqlLifecycleRepository(AbstractLifecycleRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- schedules ------------------------------------------------------------------------

    def ensure_schedule(self, name: str, first_run_at: int) -> None:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        self._conn.execute(  # two workers starting at once: the second inserts nothing
            dialect.insert(schedules)
            .values(name=name, next_run_at=first_run_at)
            .on_conflict_do_nothing(index_elements=[schedules.c.name])
        )

    def claim_due(self, now: int, intervals: dict[str, int]) -> list[str]:
        query = (
            select(schedules.c.name)
            .where(schedules.c.next_run_at <= now, schedules.c.name.in_(list(intervals)))
            .with_for_update(skip_locked=True)
        )
        names = [str(n) for (n,) in self._conn.execute(query)]
        for name in names:
            self._conn.execute(
                update(schedules)
                .where(schedules.c.name == name)
                .values(next_run_at=now + intervals[name], last_run_at=now)
            )
        return names

    def record_result(self, name: str, result: str) -> None:
        self._conn.execute(
            update(schedules).where(schedules.c.name == name).values(last_result=result[:2000])
        )

    def schedule_status(self) -> list[dict[str, Any]]:
        query = select(
            schedules.c.name,
            schedules.c.next_run_at,
            schedules.c.last_run_at,
            schedules.c.last_result,
        ).order_by(schedules.c.name)
        return [
            {"name": r[0], "next_run_at": r[1], "last_run_at": r[2], "last_result": r[3]}
            for r in self._conn.execute(query)
        ]

    # -- follow-up jobs -------------------------------------------------------------------

    def claim_jobs(self, now: int, lease_until: int, limit: int) -> list[dict[str, Any]]:
        query = (
            select(
                jobs.c.id,
                jobs.c.kind,
                jobs.c.tenant_id,
                jobs.c.subject_id,
                jobs.c.payload,
                jobs.c.attempts,
            )
            .where(jobs.c.state.in_(["queued", "running"]), jobs.c.run_after <= now)
            .order_by(jobs.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = [
            {
                "id": int(r[0]),
                "kind": r[1],
                "tenant_id": r[2],
                "subject_id": r[3],
                "payload": r[4],
                "attempts": int(r[5]),
            }
            for r in self._conn.execute(query)
        ]
        if claimed:
            self._conn.execute(
                update(jobs)
                .where(jobs.c.id.in_([c["id"] for c in claimed]))
                .values(state="running", run_after=lease_until, attempts=jobs.c.attempts + 1)
            )
        return claimed

    def finish_job(self, job_id: int, state: str, retry_at: int | None) -> None:
        values: dict[str, Any] = {"state": state}
        if retry_at is not None:
            values = {"state": "queued", "run_after": retry_at}
        self._conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def prune(self, changes_before: int, rates_before: int) -> dict[str, int]:
        changes = self._conn.execute(
            delete(decision_changes).where(decision_changes.c.at < changes_before)
        ).rowcount
        rates = self._conn.execute(delete(rate_events).where(rate_events.c.at < rates_before))
        return {"change_feed": int(changes or 0), "rate_marks": int(rates.rowcount or 0)}

    # -- legal holds ----------------------------------------------------------------------

    def add_hold(self, hold: Hold) -> None:
        self._conn.execute(
            insert(legal_holds),
            {
                "id": hold.id,
                "tenant_id": hold.tenant_id,
                "subject_id": hold.subject_id,
                "category": hold.category,
                "reason": hold.reason,
                "placed_by": hold.placed_by,
                "placed_at": hold.placed_at,
                "ends_on": hold.ends_on,
            },
        )

    def release_hold(self, tenant_id: str, hold_id: str, actor: str, now: int) -> bool:
        result = self._conn.execute(
            update(legal_holds)
            .where(
                legal_holds.c.tenant_id == tenant_id,
                legal_holds.c.id == hold_id,
                legal_holds.c.released_at.is_(None),
            )
            .values(released_at=now, released_by=actor)
        )
        return bool(result.rowcount)

    def holds(
        self, tenant_id: str, today: dt.date, *, subject_ids: Sequence[str] | None = None
    ) -> list[Hold]:
        """Holds in force in the tenant (all, or those that touch these subjects)."""
        query = select(*legal_holds.c).where(
            legal_holds.c.tenant_id == tenant_id,
            legal_holds.c.released_at.is_(None),
            or_(legal_holds.c.ends_on.is_(None), legal_holds.c.ends_on >= today),
        )
        params: dict[str, object] = {}
        if subject_ids is not None:  # one parameter for the set: one statement to prepare
            dialect = self._conn.dialect.name
            query = query.where(
                or_(
                    legal_holds.c.subject_id.is_(None),
                    one_of(legal_holds.c.subject_id, "ids", dialect),
                )
            )
            params["ids"] = values(list(subject_ids), dialect)
        query = query.order_by(legal_holds.c.placed_at)
        return [_hold(r) for r in self._conn.execute(query, params)]

    # -- purpose endings ------------------------------------------------------------------

    def end_purpose(self, ending: PurposeEnding) -> PurposeEnding | None:
        where = (
            purpose_endings.c.tenant_id == ending.tenant_id,
            purpose_endings.c.subject_id == ending.subject_id,
            purpose_endings.c.purpose == ending.purpose,
        )
        query = select(*purpose_endings.c).where(*where).with_for_update()
        found = self._conn.execute(query).first()
        values = {"ended_at": ending.ended_at, "actor": ending.actor}
        if found is None:
            self._conn.execute(
                insert(purpose_endings),
                {
                    "tenant_id": ending.tenant_id,
                    "subject_id": ending.subject_id,
                    "purpose": ending.purpose,
                    **values,
                },
            )
            return None
        self._conn.execute(update(purpose_endings).where(*where).values(**values))
        return _ending(found)

    def purpose_endings(
        self, tenant_id: str, *, subject_ids: Sequence[str] | None = None
    ) -> list[PurposeEnding]:
        query = select(*purpose_endings.c).where(purpose_endings.c.tenant_id == tenant_id)
        params: dict[str, object] = {}
        if subject_ids is not None:
            dialect = self._conn.dialect.name
            query = query.where(one_of(purpose_endings.c.subject_id, "ids", dialect))
            params["ids"] = values([EVERY_SUBJECT, *subject_ids], dialect)
        return [_ending(r) for r in self._conn.execute(query, params)]


def _ending(row: Any) -> PurposeEnding:
    return PurposeEnding(row.tenant_id, row.subject_id, row.purpose, int(row.ended_at), row.actor)


def _hold(row: Any) -> Hold:
    ends = row.ends_on
    if isinstance(ends, str):
        ends = dt.date.fromisoformat(ends)
    return Hold(
        row.id,
        row.tenant_id,
        row.subject_id,
        row.category,
        row.reason,
        row.placed_by,
        int(row.placed_at),
        ends,
        row.released_at,
    )
