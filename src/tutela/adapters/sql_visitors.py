"""Cookie-banner choices of anonymous visitors in SQL (table ``visitor_choices``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from tutela.adapters.tables import visitor_choices as vc
from tutela.services.visitors import AbstractVisitorRepository, VisitorChoice, encode_choices

_INSERT = insert(vc).returning(vc.c.seq)
_HISTORY = (
    select(
        vc.c.tenant_id,
        vc.c.visitor_id,
        vc.c.choices,
        vc.c.gpc,
        vc.c.method,
        vc.c.language,
        vc.c.at,
        vc.c.user_agent,
        vc.c.ip_hash,
        vc.c.subject_id,
        vc.c.linked_at,
        vc.c.seq,
    )
    .where(vc.c.tenant_id == bindparam("t"), vc.c.visitor_id == bindparam("v"))
    .order_by(vc.c.seq.desc())
    .limit(bindparam("n"))
)
_LINK = (
    update(vc)
    .where(
        vc.c.tenant_id == bindparam("t"),
        vc.c.visitor_id == bindparam("v"),
        vc.c.subject_id.is_(None),
        vc.c.seq <= bindparam("up_to"),
    )
    .values(subject_id=bindparam("s"), linked_at=bindparam("now"))
)


def _choice(row: Sequence[Any]) -> VisitorChoice:
    choices = {str(k): bool(v) for k, v in json.loads(row[2]).items()}
    return VisitorChoice(
        row[0],
        row[1],
        choices,
        bool(row[3]),
        row[4],
        row[5],
        int(row[6]),
        row[7],
        None if row[8] is None else bytes(row[8]),
        row[9],
        None if row[10] is None else int(row[10]),
        int(row[11]),
    )


class SqlVisitorRepository(AbstractVisitorRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, choice: VisitorChoice) -> int:
        values = {
            "tenant_id": choice.tenant_id,
            "visitor_id": choice.visitor_id,
            "choices": encode_choices(choice.choices),
            "gpc": choice.gpc,
            "method": choice.method,
            "language": choice.language,
            "at": choice.at,
            "user_agent": choice.user_agent,
            "ip_hash": choice.ip_hash,
            "subject_id": choice.subject_id,
            "linked_at": choice.linked_at,
        }
        return int(self._conn.execute(_INSERT, values).scalar_one())

    def history(self, tenant_id: str, visitor_id: str, limit: int) -> list[VisitorChoice]:
        rows = self._conn.execute(_HISTORY, {"t": tenant_id, "v": visitor_id, "n": limit})
        return [_choice(row) for row in reversed(rows.all())]

    def link(self, tenant_id: str, visitor_id: str, subject_id: str, up_to: int, now: int) -> int:
        params = {"t": tenant_id, "v": visitor_id, "s": subject_id, "up_to": up_to, "now": now}
        return int(self._conn.execute(_LINK, params).rowcount)
