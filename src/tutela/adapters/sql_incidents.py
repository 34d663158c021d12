"""Incidents, their timeline, and which subjects were told, in SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, distinct, func, insert, select, update

from tutela.adapters.tables import (
    incident_events,
    incident_notices,
    incidents,
    subject_fields,
    subjects,
)
from tutela.domain.subjects import ERASED
from tutela.services.incident_records import (
    AbstractIncidentRepository,
    AffectedSubject,
    IncidentRecord,
)

_LISTS = ("kinds", "tenants", "categories", "datasets", "measures", "advice")
_MAPS = ("met", "delay_reasons")
_COLUMNS = [incidents.c[name] for name in IncidentRecord.__dataclass_fields__]


def _record(row: Any) -> IncidentRecord:
    values = dict(row._mapping)
    for name in _LISTS:
        values[name] = tuple(json.loads(values[name]))
    for name in _MAPS:
        values[name] = json.loads(values[name])
    if values["assessment"] is not None:
        values["assessment"] = json.loads(values["assessment"])
    values["encrypted"] = bool(values["encrypted"])
    return IncidentRecord(**values)


def _values(record: IncidentRecord) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in IncidentRecord.__dataclass_fields__}
    for name in _LISTS:
        values[name] = json.dumps(list(values[name]), ensure_ascii=False)
    for name in _MAPS:
        values[name] = json.dumps(values[name], sort_keys=True, ensure_ascii=False)
    if record.assessment is not None:
        values["assessment"] = json.dumps(record.assessment, sort_keys=True, ensure_ascii=False)
    return values


class SqlIncidentRepository(AbstractIncidentRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: IncidentRecord) -> None:
        self._conn.execute(insert(incidents), _values(record))

    def get(self, tenant_id: str, incident_id: str, *, lock: bool = False) -> IncidentRecord | None:
        query = select(*_COLUMNS).where(
            incidents.c.tenant_id == tenant_id, incidents.c.id == incident_id
        )
        if lock:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _record(row)

    def save(self, record: IncidentRecord) -> None:
        values = _values(record)
        del values["id"], values["tenant_id"]
        self._conn.execute(
            update(incidents)
            .where(incidents.c.tenant_id == record.tenant_id, incidents.c.id == record.id)
            .values(**values)
        )

    def listing(self, tenant_id: str, include_closed: bool) -> list[IncidentRecord]:
        query = select(*_COLUMNS).where(incidents.c.tenant_id == tenant_id)
        if not include_closed:
            query = query.where(incidents.c.state == "open")
        query = query.order_by(incidents.c.aware_at, incidents.c.id)
        return [_record(row) for row in self._conn.execute(query)]

    def add_event(
        self,
        incident_id: str,
        at: int,
        actor: str,
        kind: str,
        note: str,
        details: dict[str, Any],
    ) -> None:
        self._conn.execute(
            insert(incident_events),
            {
                "incident_id": incident_id,
                "at": at,
                "actor": actor,
                "kind": kind,
                "note": note,
                "details": json.dumps(details, sort_keys=True, ensure_ascii=False),
            },
        )

    def events(self, incident_id: str) -> list[dict[str, Any]]:
        query = (
            select(
                incident_events.c.at,
                incident_events.c.actor,
                incident_events.c.kind,
                incident_events.c.note,
                incident_events.c.details,
            )
            .where(incident_events.c.incident_id == incident_id)
            .order_by(incident_events.c.seq)
        )
        return [
            {
                "at": int(row.at),
                "actor": row.actor,
                "kind": row.kind,
                "note": row.note,
                "details": json.loads(row.details),
            }
            for row in self._conn.execute(query)
        ]

    def _holding(self, tenant_id: str, categories: Sequence[str]) -> Any:
        return (
            select(subject_fields.c.subject_id)
            .join(subjects, subjects.c.id == subject_fields.c.subject_id)
            .where(
                subject_fields.c.tenant_id == tenant_id,
                subjects.c.tenant_id == tenant_id,
                subjects.c.status != ERASED,
                subject_fields.c.category.in_(list(categories)),
            )
        )

    def count_affected(self, tenant_id: str, categories: Sequence[str]) -> int:
        if not categories:
            return 0
        inner = self._holding(tenant_id, categories).subquery()
        query = select(func.count(distinct(inner.c.subject_id)))
        return int(self._conn.execute(query).scalar_one())

    def affected_page(
        self, tenant_id: str, categories: Sequence[str], after: str, limit: int
    ) -> list[AffectedSubject]:
        if not categories:
            return []
        ids_query = (
            self._holding(tenant_id, categories)
            .where(subject_fields.c.subject_id > after)
            .group_by(subject_fields.c.subject_id)
            .order_by(subject_fields.c.subject_id)
            .limit(limit)
        )
        ids = [str(sid) for (sid,) in self._conn.execute(ids_query)]
        if not ids:
            return []
        found: dict[str, list[str]] = {sid: [] for sid in ids}
        languages: dict[str, str | None] = {}
        detail = (
            select(subjects.c.id, subjects.c.language, subject_fields.c.category)
            .join(subject_fields, subject_fields.c.subject_id == subjects.c.id)
            .where(
                subjects.c.tenant_id == tenant_id,
                subjects.c.id.in_(ids),
                subject_fields.c.category.in_(list(categories)),
            )
            .order_by(subjects.c.id, subject_fields.c.category)
        )
        for sid, language, category in self._conn.execute(detail):
            found[sid].append(category)
            languages[sid] = language
        return [AffectedSubject(sid, tuple(found[sid]), languages.get(sid)) for sid in ids]

    def noticed(self, incident_id: str, tenant_id: str, subject_ids: Sequence[str]) -> set[str]:
        if not subject_ids:
            return set()
        query = select(incident_notices.c.subject_id).where(
            incident_notices.c.incident_id == incident_id,
            incident_notices.c.tenant_id == tenant_id,
            incident_notices.c.subject_id.in_(list(subject_ids)),
        )
        return {str(sid) for (sid,) in self._conn.execute(query)}

    def add_notice(
        self,
        incident_id: str,
        tenant_id: str,
        subject_id: str,
        state: str,
        language: str,
        at: int,
    ) -> None:
        self._conn.execute(
            insert(incident_notices),
            {
                "incident_id": incident_id,
                "tenant_id": tenant_id,
                "subject_id": subject_id,
                "state": state,
                "language": language,
                "at": at,
            },
        )

    def count_notices(self, incident_id: str) -> dict[str, int]:
        query = (
            select(incident_notices.c.state, func.count())
            .where(incident_notices.c.incident_id == incident_id)
            .group_by(incident_notices.c.state)
        )
        return {str(state): int(count) for state, count in self._conn.execute(query)}
