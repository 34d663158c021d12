"""Sunsets and their per-subject and per-recipient progress, in SQL."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from tutela.adapters.tables import sunset_items, sunsets
from tutela.services.ports import AbstractSunsetRepository, SunsetItem, SunsetState

# asked on every registration and consent: built once
_STOPPED = select(sunsets.c.tenant_id).where(sunsets.c.tenant_id == bindparam("tenant_id"))
_DETAIL_BATCH = 1000


class SqlSunsetRepository(AbstractSunsetRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def stopped(self, tenant_id: str) -> bool:
        return self._conn.execute(_STOPPED, {"tenant_id": tenant_id}).first() is not None

    def get(self, tenant_id: str) -> SunsetState | None:
        row = self._conn.execute(select(*sunsets.c).where(sunsets.c.tenant_id == tenant_id)).first()
        if row is None:
            return None
        return SunsetState(
            row.tenant_id,
            int(row.started_at),
            row.started_by,
            json.loads(row.steps),
            None if row.finished_at is None else int(row.finished_at),
            row.report,
            int(row.updated_at),
        )

    def start(self, state: SunsetState) -> None:
        self._conn.execute(insert(sunsets), _row(state))

    def save(self, state: SunsetState) -> None:
        values = _row(state)
        del values["tenant_id"]
        self._conn.execute(
            update(sunsets).where(sunsets.c.tenant_id == state.tenant_id).values(**values)
        )

    def items(
        self, tenant_id: str, kind: str, names: Sequence[str] | None = None
    ) -> dict[str, SunsetItem]:
        query = select(*sunset_items.c).where(
            sunset_items.c.tenant_id == tenant_id, sunset_items.c.kind == kind
        )
        if names is not None:
            if not names:
                return {}
            query = query.where(sunset_items.c.item.in_(list(names)))
        return {
            row.item: SunsetItem(
                row.kind,
                row.item,
                row.state,
                int(row.attempts),
                None if row.detail is None else json.loads(row.detail),
                int(row.at),
            )
            for row in self._conn.execute(query)
        }

    def put_item(self, tenant_id: str, item: SunsetItem, *, new: bool) -> None:
        values = {
            "state": item.state,
            "attempts": item.attempts,
            "detail": None if item.detail is None else json.dumps(item.detail, sort_keys=True),
            "at": item.at,
        }
        if new:
            self._conn.execute(
                insert(sunset_items),
                {"tenant_id": tenant_id, "kind": item.kind, "item": item.item, **values},
            )
            return
        self._conn.execute(
            update(sunset_items)
            .where(
                sunset_items.c.tenant_id == tenant_id,
                sunset_items.c.kind == item.kind,
                sunset_items.c.item == item.item,
            )
            .values(**values)
        )

    def count_items(self, tenant_id: str, kind: str) -> dict[str, int]:
        query = (
            select(sunset_items.c.state, func.count())
            .where(sunset_items.c.tenant_id == tenant_id, sunset_items.c.kind == kind)
            .group_by(sunset_items.c.state)
        )
        return {str(state): int(count) for state, count in self._conn.execute(query)}

    def item_details(self, tenant_id: str, kind: str) -> Iterator[dict[str, Any]]:
        after = ""
        while True:
            query = (
                select(sunset_items.c.item, sunset_items.c.detail)
                .where(
                    sunset_items.c.tenant_id == tenant_id,
                    sunset_items.c.kind == kind,
                    sunset_items.c.detail.is_not(None),
                    sunset_items.c.item > after,
                )
                .order_by(sunset_items.c.item)
                .limit(_DETAIL_BATCH)
            )
            rows = self._conn.execute(query).all()
            for row in rows:
                yield json.loads(row.detail)
            if len(rows) < _DETAIL_BATCH:
                return
            after = rows[-1].item


def _row(state: SunsetState) -> dict[str, Any]:
    return {
        "tenant_id": state.tenant_id,
        "started_at": state.started_at,
        "started_by": state.started_by,
        "steps": json.dumps(state.steps, sort_keys=True),
        "finished_at": state.finished_at,
        "report": state.report,
        "updated_at": state.updated_at,
    }
