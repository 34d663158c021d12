"""The key store: wrapped subject data keys, in a database apart from the main one.

Restoring an old main-database backup cannot bring back a shredded key, because the keys are
not in it. By default the store is a second SQLite file in the data directory; in production
a separate database (or, later, a KMS). Its table is created here, not by the main database
migrations, since it lives elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import (
    BigInteger,
    Column,
    Delete,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from tutela.adapters.database import READ_ONLY
from tutela.adapters.sql_sets import one_of, values
from tutela.services.ports import AbstractKeyStore, WrappedKey

metadata = MetaData()

subject_keys = Table(
    "subject_keys",
    metadata,
    Column("subject_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False, index=True),
    Column("kek_version", Integer, nullable=False, index=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

_INSERT = insert(subject_keys)
_GET = select(
    subject_keys.c.subject_id,
    subject_keys.c.tenant_id,
    subject_keys.c.kek_version,
    subject_keys.c.wrapped,
).where(subject_keys.c.subject_id == bindparam("s"))
_DELETE = delete(subject_keys).where(subject_keys.c.subject_id == bindparam("s"))


@cache
def _delete_many(dialect: str) -> Delete:
    return delete(subject_keys).where(one_of(subject_keys.c.subject_id, "ids", dialect))


_REWRAP = (
    update(subject_keys)
    .where(
        subject_keys.c.subject_id == bindparam("s"), subject_keys.c.kek_version == bindparam("old")
    )
    .values(kek_version=bindparam("new"), wrapped=bindparam("w"))
)


class SqlKeyStore(AbstractKeyStore):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def create_schema(self) -> None:
        metadata.create_all(self._engine)

    def put(self, key: WrappedKey, now: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(_INSERT, _row(key, now))

    def put_many(self, keys: Sequence[WrappedKey], now: int) -> None:
        if keys:
            with self._engine.begin() as conn:
                conn.execute(_INSERT, [_row(k, now) for k in keys])

    def get(self, subject_id: str) -> WrappedKey | None:
        with self._reader.connect() as conn:
            row = conn.execute(_GET, {"s": subject_id}).first()
        return None if row is None else WrappedKey(row[0], row[1], row[2], bytes(row[3]))

    def delete(self, subject_id: str) -> bool:
        with self._engine.begin() as conn:
            return bool(conn.execute(_DELETE, {"s": subject_id}).rowcount)

    def delete_many(self, subject_ids: Sequence[str]) -> int:
        if not subject_ids:
            return 0
        dialect = self._engine.dialect.name
        statement = _delete_many(dialect)
        with self._engine.begin() as conn:
            found = conn.execute(statement, {"ids": values(subject_ids, dialect)})
            return int(found.rowcount or 0)

    def present(self, subject_ids: Sequence[str]) -> set[str]:
        if not subject_ids:
            return set()
        query = select(subject_keys.c.subject_id).where(
            subject_keys.c.subject_id.in_(list(subject_ids))
        )
        with self._reader.connect() as conn:
            return {str(s) for (s,) in conn.execute(query)}

    def count_by_version(self) -> dict[int, int]:
        query = select(subject_keys.c.kek_version, func.count()).group_by(
            subject_keys.c.kek_version
        )
        with self._reader.connect() as conn:
            return {int(v): int(n) for v, n in conn.execute(query)}

    def not_at_version(self, version: int, after: str, limit: int) -> list[WrappedKey]:
        query = (
            select(
                subject_keys.c.subject_id,
                subject_keys.c.tenant_id,
                subject_keys.c.kek_version,
                subject_keys.c.wrapped,
            )
            .where(subject_keys.c.kek_version != version, subject_keys.c.subject_id > after)
            .order_by(subject_keys.c.subject_id)
            .limit(limit)
        )
        with self._reader.connect() as conn:
            return [WrappedKey(r[0], r[1], r[2], bytes(r[3])) for r in conn.execute(query)]

    def rewrap(self, subject_id: str, old_version: int, new: WrappedKey) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                _REWRAP, {"s": subject_id, "old": old_version, "new": new.version, "w": new.wrapped}
            )
            return bool(result.rowcount)

    def rewrap_many(self, batch: Sequence[tuple[int, WrappedKey]]) -> int:
        """Rewrap a batch in one transaction; returns how many were still at the old version."""
        done = 0
        with self._engine.begin() as conn:
            for old, new in batch:
                result = conn.execute(
                    _REWRAP,
                    {"s": new.subject_id, "old": old, "new": new.version, "w": new.wrapped},
                )
                done += result.rowcount
        return done


def _row(key: WrappedKey, now: int) -> dict[str, object]:
    return {
        "subject_id": key.subject_id,
        "tenant_id": key.tenant_id,
        "kek_version": key.version,
        "wrapped": key.wrapped,
        "created_at": now,
    }
