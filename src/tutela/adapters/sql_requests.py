"""Requests, their history, one-time codes, rate limits, the mail outbox and access packages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update

from tutela.adapters.tables import (
    outbox,
    packages,
    rate_events,
    request_events,
    requests,
    verifications,
)
from tutela.services.ports import AbstractRequestRepository, RequestRecord, Verification

_COLUMNS = [requests.c[name] for name in RequestRecord.__dataclass_fields__]
_BYTES = {"identity_digest", "identity_enc", "details_enc"}


def _record(row: Sequence[Any]) -> RequestRecord:
    values = dict(zip(RequestRecord.__dataclass_fields__, row, strict=True))
    for key in _BYTES:
        if values[key] is not None:
            values[key] = bytes(values[key])
    values["extended"] = bool(values["extended"])
    return RequestRecord(**values)


def _values(record: RequestRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in RequestRecord.__dataclass_fields__}


class SqlRequestRepository(AbstractRequestRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: RequestRecord) -> None:
        self._conn.execute(insert(requests), _values(record))

    def get(self, tenant_id: str, request_id: str, *, lock: bool = False) -> RequestRecord | None:
        query = select(*_COLUMNS).where(
            requests.c.tenant_id == tenant_id, requests.c.id == request_id
        )
        if lock:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _record(row)

    def tenant_of(self, request_id: str) -> str | None:
        query = select(requests.c.tenant_id).where(requests.c.id == request_id)
        found = self._conn.execute(query).scalar_one_or_none()
        return None if found is None else str(found)

    def save(self, record: RequestRecord) -> None:
        values = _values(record)
        values.pop("id")
        self._conn.execute(
            update(requests)
            .where(requests.c.tenant_id == record.tenant_id, requests.c.id == record.id)
            .values(**values)
        )

    def queue(
        self, tenant_id: str, states: Sequence[str] | None, limit: int
    ) -> list[RequestRecord]:
        open_first = case(
            (requests.c.state.in_(["completed", "rejected", "cancelled"]), 1), else_=0
        )
        query = select(*_COLUMNS).where(requests.c.tenant_id == tenant_id)
        if states:
            query = query.where(requests.c.state.in_(list(states)))
        query = query.order_by(open_first, requests.c.due_at, requests.c.received_at).limit(limit)
        return [_record(r) for r in self._conn.execute(query)]

    def latest(self, tenant_id: str, states: Sequence[str], limit: int) -> list[RequestRecord]:
        query = (
            select(*_COLUMNS)
            .where(requests.c.tenant_id == tenant_id, requests.c.state.in_(list(states)))
            .order_by(requests.c.received_at.desc(), requests.c.id)
            .limit(limit)
        )
        return [_record(r) for r in self._conn.execute(query)]

    def by_identity(self, tenant_id: str, kind: str, digest: bytes) -> list[RequestRecord]:
        query = (
            select(*_COLUMNS)
            .where(
                requests.c.tenant_id == tenant_id,
                requests.c.identity_kind == kind,
                requests.c.identity_digest == digest,
            )
            .order_by(requests.c.received_at)
        )
        return [_record(r) for r in self._conn.execute(query)]

    def add_event(
        self,
        tenant_id: str,
        request_id: str,
        at: int,
        from_state: str | None,
        to_state: str,
        actor: str,
        note: str,
    ) -> None:
        self._conn.execute(
            insert(request_events),
            {
                "request_id": request_id,
                "tenant_id": tenant_id,
                "at": at,
                "from_state": from_state,
                "to_state": to_state,
                "actor": actor,
                "note": note,
            },
        )

    def events(self, request_id: str) -> list[dict[str, Any]]:
        query = (
            select(
                request_events.c.at,
                request_events.c.from_state,
                request_events.c.to_state,
                request_events.c.actor,
                request_events.c.note,
            )
            .where(request_events.c.request_id == request_id)
            .order_by(request_events.c.seq)
        )
        return [
            {"at": r[0], "from": r[1], "to": r[2], "actor": r[3], "note": r[4]}
            for r in self._conn.execute(query)
        ]

    def verification(self, request_id: str) -> Verification | None:
        row = self._conn.execute(
            select(
                verifications.c.request_id,
                verifications.c.code_hash,
                verifications.c.expires_at,
                verifications.c.attempts,
                verifications.c.sent_at,
            ).where(verifications.c.request_id == request_id)
        ).first()
        if row is None:
            return None
        return Verification(row[0], bytes(row[1]), int(row[2]), int(row[3]), int(row[4]))

    def save_verification(self, verification: Verification) -> None:
        self.drop_verification(verification.request_id)
        self._conn.execute(
            insert(verifications),
            {
                "request_id": verification.request_id,
                "code_hash": verification.code_hash,
                "expires_at": verification.expires_at,
                "attempts": verification.attempts,
                "sent_at": verification.sent_at,
            },
        )

    def drop_verification(self, request_id: str) -> None:
        self._conn.execute(delete(verifications).where(verifications.c.request_id == request_id))

    def count_rate(self, kind: str, key: bytes, since: int) -> int:
        query = select(func.count()).where(
            rate_events.c.kind == kind, rate_events.c.key_digest == key, rate_events.c.at >= since
        )
        return int(self._conn.execute(query).scalar_one())

    def note_rate(self, kind: str, key: bytes, at: int) -> None:
        self._conn.execute(insert(rate_events), {"kind": kind, "key_digest": key, "at": at})

    def queue_mail(
        self, tenant_id: str, kind: str, message_enc: bytes, now: int, key: str | None = None
    ) -> int | None:
        values = {
            "tenant_id": tenant_id,
            "kind": kind,
            "message_enc": message_enc,
            "state": "queued",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "idempotency_key": key,
        }
        if key is not None:
            exists = select(outbox.c.id).where(outbox.c.idempotency_key == key)
            if self._conn.execute(exists).first() is not None:
                return None
        result = self._conn.execute(insert(outbox).returning(outbox.c.id), values)
        return int(result.scalar_one())

    def mail_states(self, key_prefix: str) -> dict[str, int]:
        escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(outbox.c.state, func.count())
            .where(outbox.c.idempotency_key.like(escaped + "%", escape="\\"))
            .group_by(outbox.c.state)
        )
        return {str(state): int(n) for state, n in self._conn.execute(query)}

    def claim_mail(
        self, now: int, lease_until: int, limit: int
    ) -> list[tuple[int, str, str, bytes, int]]:
        query = (
            select(
                outbox.c.id,
                outbox.c.tenant_id,
                outbox.c.kind,
                outbox.c.message_enc,
                outbox.c.attempts,
            )
            .where(outbox.c.state.in_(["queued", "sending"]), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = [
            (int(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4]))
            for r in self._conn.execute(query)
        ]
        if rows:
            self._conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r[0] for r in rows]))
                .values(state="sending", next_attempt_at=lease_until)
            )
        return rows

    def mail_done(self, mail_id: int, now: int, error: str | None, retry_at: int | None) -> None:
        if error is None:
            values: dict[str, Any] = {
                "state": "sent",
                "sent_at": now,
                "error": None,
                "message_enc": b"",
            }  # nothing personal is kept once sent
        elif retry_at is None:
            values = {"state": "failed", "error": error[:200], "message_enc": b""}
        else:
            values = {"error": error[:200], "next_attempt_at": retry_at}
        values["attempts"] = outbox.c.attempts + 1
        self._conn.execute(update(outbox).where(outbox.c.id == mail_id).values(**values))

    def add_package(
        self,
        package_id: str,
        tenant_id: str,
        request_id: str,
        now: int,
        expires_at: int,
        content_enc: bytes,
        size: int,
    ) -> None:
        self._conn.execute(
            insert(packages),
            {
                "id": package_id,
                "tenant_id": tenant_id,
                "request_id": request_id,
                "created_at": now,
                "expires_at": expires_at,
                "size": size,
                "content_enc": content_enc,
            },
        )

    def package(self, tenant_id: str, package_id: str) -> tuple[str, int, bytes] | None:
        row = self._conn.execute(
            select(packages.c.request_id, packages.c.expires_at, packages.c.content_enc).where(
                packages.c.tenant_id == tenant_id, packages.c.id == package_id
            )
        ).first()
        return None if row is None else (str(row[0]), int(row[1]), bytes(row[2]))

    def delete_expired_packages(self, now: int) -> int:
        result = self._conn.execute(delete(packages).where(packages.c.expires_at <= now))
        return int(result.rowcount or 0)
