"""The audit chain in SQL: append under a row lock on the chain head, walk in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from tutela.adapters.tables import audit_heads, audit_log
from tutela.domain.audit import (
    GENESIS,
    AuditEntry,
    AuditEvent,
    clean_actor,
    encode_details,
    encode_fields,
    entry_hash,
    head_message,
)
from tutela.services.ports import AbstractAuditLog

_HEAD = select(audit_heads.c.seq, audit_heads.c.hash, audit_heads.c.seal).where(
    audit_heads.c.chain == bindparam("c")
)
_HEAD_LOCKED = _HEAD.with_for_update()
_INSERT_HEAD = insert(audit_heads)
_UPDATE_HEAD = (
    update(audit_heads)
    .where(audit_heads.c.chain == bindparam("c"))
    .values(seq=bindparam("seq"), hash=bindparam("h"), seal=bindparam("sl"))
)
_INSERT_ENTRY = insert(audit_log)
_COLUMNS = (
    audit_log.c.seq,
    audit_log.c.at,
    audit_log.c.actor,
    audit_log.c.action,
    audit_log.c.subject_id,
    audit_log.c.fields,
    audit_log.c.details,
    audit_log.c.prev_hash,
    audit_log.c.hash,
)

Sealer = Callable[[bytes], bytes]


class SqlAuditLog(AbstractAuditLog):
    def __init__(self, conn: Connection, sealer: Sealer) -> None:
        self._conn = conn
        self._seal = sealer

    def ensure_chain(self, chain: str) -> None:
        if self._conn.execute(_HEAD, {"c": chain}).first() is None:
            self._conn.execute(
                _INSERT_HEAD,
                {
                    "chain": chain,
                    "seq": 0,
                    "hash": GENESIS,
                    "seal": self._seal(head_message(chain, 0, GENESIS)),
                },
            )

    def _locked_head(self, chain: str) -> tuple[int, bytes]:
        row = self._conn.execute(_HEAD_LOCKED, {"c": chain}).first()
        if row is None:
            self.ensure_chain(chain)
            return 0, GENESIS
        return int(row[0]), bytes(row[1])

    def append(self, event: AuditEvent, now: int) -> AuditEntry:
        seq, prev = self._locked_head(event.chain)
        entry, row = _entry(event, seq + 1, prev, now)
        self._conn.execute(_INSERT_ENTRY, row)
        self._write_head(event.chain, entry.seq, entry.hash)
        return entry

    def append_many(self, events: Sequence[AuditEvent], now: int) -> None:
        by_chain: dict[str, list[AuditEvent]] = {}
        for event in events:
            by_chain.setdefault(event.chain, []).append(event)
        for chain, chain_events in by_chain.items():
            seq, prev = self._locked_head(chain)
            rows = []
            for event in chain_events:
                seq += 1
                entry, row = _entry(event, seq, prev, now)
                prev = entry.hash
                rows.append(row)
            self._conn.execute(_INSERT_ENTRY, rows)
            self._write_head(chain, seq, prev)

    def _write_head(self, chain: str, seq: int, digest: bytes) -> None:
        seal = self._seal(head_message(chain, seq, digest))
        self._conn.execute(_UPDATE_HEAD, {"c": chain, "seq": seq, "h": digest, "sl": seal})

    def chains(self) -> list[str]:
        query = select(audit_heads.c.chain).order_by(audit_heads.c.chain)
        return [str(c) for (c,) in self._conn.execute(query)]

    def head(self, chain: str) -> tuple[int, bytes, bytes] | None:
        row = self._conn.execute(_HEAD, {"c": chain}).first()
        return None if row is None else (int(row[0]), bytes(row[1]), bytes(row[2]))

    def rows(self, chain: str) -> Iterator[Sequence[Any]]:
        query = select(*_COLUMNS).where(audit_log.c.chain == chain).order_by(audit_log.c.seq)
        result = self._conn.execution_options(yield_per=5000).execute(query)
        for partition in result.partitions():
            yield from partition

    def entries(
        self, chain: str, subject_id: str | None, after_seq: int, limit: int
    ) -> list[AuditEntry]:
        query = select(*_COLUMNS).where(audit_log.c.chain == chain, audit_log.c.seq > after_seq)
        if subject_id is not None:
            query = query.where(audit_log.c.subject_id == subject_id)
        query = query.order_by(audit_log.c.seq).limit(limit)
        return [
            AuditEntry(chain, r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]), bytes(r[8]))
            for r in self._conn.execute(query)
        ]


def _entry(event: AuditEvent, seq: int, prev: bytes, now: int) -> tuple[AuditEntry, dict[str, Any]]:
    actor = clean_actor(event.actor)
    fields = encode_fields(event.fields)
    details = encode_details(event.details)
    digest = entry_hash(
        event.chain, seq, now, actor, event.action, event.subject_id, fields, details, prev
    )
    entry = AuditEntry(
        event.chain, seq, now, actor, event.action, event.subject_id, fields, details, prev, digest
    )
    row = {
        "chain": event.chain,
        "seq": seq,
        "at": now,
        "actor": actor,
        "action": event.action,
        "subject_id": event.subject_id,
        "fields": fields,
        "details": details,
        "prev_hash": prev,
        "hash": digest,
    }
    return entry, row
