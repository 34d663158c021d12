"""Subjects, their encrypted fields and blind-index lookups in SQL (Core, prebuilt statements)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import (
    BigInteger,
    Connection,
    Executable,
    String,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from tutela.adapters.sql_sets import each_of, one_of, values
from tutela.adapters.tables import decision_changes, subject_fields, subject_lookups, subjects
from tutela.domain.errors import Conflict
from tutela.domain.subjects import CLOSED, ERASED
from tutela.services.ports import AbstractSubjectRepository, StoredField, SubjectRecord

_INSERT_SUBJECT = insert(subjects)
_SUBJECTS = select(
    subjects.c.id,
    subjects.c.tenant_id,
    subjects.c.status,
    subjects.c.created_at,
    subjects.c.updated_at,
    subjects.c.language,
    subjects.c.closed_at,
)
_GET_SUBJECT = _SUBJECTS.where(
    subjects.c.tenant_id == bindparam("t"), subjects.c.id == bindparam("s")
)
_SET_STATUS = (
    update(subjects)
    .where(subjects.c.tenant_id == bindparam("t"), subjects.c.id == bindparam("s"))
    .values(status=bindparam("st"), updated_at=bindparam("now"))
)
_CLOSE = (  # closing an account records when: retention counted from account_closed starts here
    update(subjects)
    .where(subjects.c.tenant_id == bindparam("t"), subjects.c.id == bindparam("s"))
    .values(status=bindparam("st"), updated_at=bindparam("now"), closed_at=bindparam("now"))
)
_TOUCH = (
    update(subjects)
    .where(subjects.c.tenant_id == bindparam("t"), subjects.c.id == bindparam("s"))
    .values(updated_at=bindparam("now"))
)
_GET_FIELDS = select(
    subject_fields.c.category,
    subject_fields.c.kind,
    subject_fields.c.value,
    subject_fields.c.updated_at,
).where(subject_fields.c.tenant_id == bindparam("t"), subject_fields.c.subject_id == bindparam("s"))
_INSERT_FIELD = insert(subject_fields)
_DELETE_FIELD = delete(subject_fields).where(
    subject_fields.c.tenant_id == bindparam("t"),
    subject_fields.c.subject_id == bindparam("s"),
    subject_fields.c.category == bindparam("c"),
)
_DELETE_ALL_FIELDS = delete(subject_fields).where(
    subject_fields.c.tenant_id == bindparam("t"), subject_fields.c.subject_id == bindparam("s")
)
_INSERT_LOOKUP = insert(subject_lookups)
_DELETE_UNCHANGED = delete(subject_fields).where(  # a field rewritten since it was read stays
    subject_fields.c.tenant_id == bindparam("t"),
    subject_fields.c.subject_id == bindparam("s"),
    subject_fields.c.category == bindparam("c"),
    subject_fields.c.updated_at == bindparam("at"),
)
_FIND = select(subject_lookups.c.subject_id).where(
    subject_lookups.c.tenant_id == bindparam("t"),
    subject_lookups.c.kind == bindparam("k"),
    subject_lookups.c.digest == bindparam("d"),
)
_DELETE_LOOKUPS = delete(subject_lookups).where(
    subject_lookups.c.tenant_id == bindparam("t"), subject_lookups.c.subject_id == bindparam("s")
)
_DELETE_LOOKUP_KIND = delete(subject_lookups).where(
    subject_lookups.c.tenant_id == bindparam("t"),
    subject_lookups.c.subject_id == bindparam("s"),
    subject_lookups.c.kind == bindparam("k"),
)


@cache
def _field_times(dialect: str) -> Executable:
    """The categories of a set of subjects' fields and when each was written (no values)."""
    return select(
        subject_fields.c.subject_id, subject_fields.c.category, subject_fields.c.updated_at
    ).where(
        subject_fields.c.tenant_id == bindparam("t"),
        one_of(subject_fields.c.subject_id, "ids", dialect),
    )


@cache
def _erasing(dialect: str) -> tuple[Executable, ...]:
    """Erasing many subjects at once: fields, lookups, status, and a note for the decision
    caches, each one statement over the set of ids."""
    fields = delete(subject_fields).where(
        subject_fields.c.tenant_id == bindparam("t"),
        one_of(subject_fields.c.subject_id, "ids", dialect),
    )
    lookups = delete(subject_lookups).where(
        subject_lookups.c.tenant_id == bindparam("t"),
        one_of(subject_lookups.c.subject_id, "ids", dialect),
    )
    status = (
        update(subjects)
        .where(subjects.c.tenant_id == bindparam("t"), one_of(subjects.c.id, "ids", dialect))
        .values(status=ERASED, updated_at=bindparam("now"))
    )
    ids = each_of("ids", dialect).subquery()
    noted = insert(decision_changes).from_select(
        ["tenant_id", "subject_id", "at"],
        select(bindparam("t", type_=String), ids.c.value, bindparam("now", type_=BigInteger)),
    )
    return fields, lookups, status, noted


class SqlSubjectRepository(AbstractSubjectRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: SubjectRecord) -> None:
        self._conn.execute(
            _INSERT_SUBJECT,
            {
                "id": record.id,
                "tenant_id": record.tenant_id,
                "status": record.status,
                "created_at": record.created_at,
                "updated_at": record.updated_at,
                "language": record.language,
            },
        )

    def get(self, tenant_id: str, subject_id: str) -> SubjectRecord | None:
        row = self._conn.execute(_GET_SUBJECT, {"t": tenant_id, "s": subject_id}).first()
        return None if row is None else SubjectRecord(*row)

    def set_status(self, tenant_id: str, subject_id: str, status: str, now: int) -> None:
        statement = _CLOSE if status == CLOSED else _SET_STATUS
        self._conn.execute(statement, {"t": tenant_id, "s": subject_id, "st": status, "now": now})

    def set_language(self, tenant_id: str, subject_id: str, language: str | None) -> None:
        self._conn.execute(
            update(subjects)
            .where(subjects.c.tenant_id == tenant_id, subjects.c.id == subject_id)
            .values(language=language)
        )

    def touch(self, tenant_id: str, subject_id: str, now: int) -> None:
        self._conn.execute(_TOUCH, {"t": tenant_id, "s": subject_id, "now": now})

    def fields(self, tenant_id: str, subject_id: str) -> list[StoredField]:
        rows = self._conn.execute(_GET_FIELDS, {"t": tenant_id, "s": subject_id})
        return [StoredField(c, k, bytes(v), int(u)) for c, k, v, u in rows]

    def put_fields(
        self, tenant_id: str, subject_id: str, fields: Sequence[StoredField], now: int
    ) -> None:
        if not fields:
            return
        self._conn.execute(
            _DELETE_FIELD, [{"t": tenant_id, "s": subject_id, "c": f.category} for f in fields]
        )
        self._conn.execute(
            _INSERT_FIELD, [_field_row(tenant_id, subject_id, f, now) for f in fields]
        )

    def delete_fields(
        self, tenant_id: str, subject_id: str, categories: Sequence[str] | None
    ) -> None:
        if categories is None:
            self._conn.execute(_DELETE_ALL_FIELDS, {"t": tenant_id, "s": subject_id})
        elif categories:
            self._conn.execute(
                _DELETE_FIELD, [{"t": tenant_id, "s": subject_id, "c": c} for c in categories]
            )

    def add_lookup(self, tenant_id: str, kind: str, digest: bytes, subject_id: str) -> None:
        holder = self.find(tenant_id, kind, digest)
        if holder == subject_id:
            return
        if holder is not None:
            raise _conflict(kind)
        try:
            self._conn.execute(
                _INSERT_LOOKUP,
                {"tenant_id": tenant_id, "kind": kind, "digest": digest, "subject_id": subject_id},
            )
        except SqlIntegrityError:
            raise _conflict(kind) from None

    def remove_lookups(self, tenant_id: str, subject_id: str, kinds: Sequence[str] | None) -> None:
        if kinds is None:
            self._conn.execute(_DELETE_LOOKUPS, {"t": tenant_id, "s": subject_id})
        elif kinds:
            self._conn.execute(
                _DELETE_LOOKUP_KIND, [{"t": tenant_id, "s": subject_id, "k": k} for k in kinds]
            )

    def find(self, tenant_id: str, kind: str, digest: bytes) -> str | None:
        row = self._conn.execute(_FIND, {"t": tenant_id, "k": kind, "d": digest}).first()
        return None if row is None else str(row[0])

    def existing(self, tenant_id: str, kind: str, digests: Sequence[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        for start in range(0, len(digests), 500):
            chunk = list(digests[start : start + 500])
            query = select(subject_lookups.c.digest).where(
                subject_lookups.c.tenant_id == tenant_id,
                subject_lookups.c.kind == kind,
                subject_lookups.c.digest.in_(chunk),
            )
            found.update(bytes(d) for (d,) in self._conn.execute(query))
        return found

    def page(
        self, tenant_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[SubjectRecord, list[str]]]:
        records = self._records(tenant_id, after, limit)
        if not records:
            return []
        names: dict[str, list[str]] = {r.id: [] for r in records}
        field_query = (
            select(subject_fields.c.subject_id, subject_fields.c.category)
            .where(
                subject_fields.c.tenant_id == tenant_id,
                subject_fields.c.subject_id.in_(list(names)),
            )
            .order_by(subject_fields.c.category)
        )
        for sid, category in self._conn.execute(field_query):
            names[sid].append(category)
        return [(r, names[r.id]) for r in records]

    def page_fields(
        self, tenant_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[SubjectRecord, list[tuple[str, int]]]]:
        records = self._records(tenant_id, after, limit)
        if not records:
            return []
        found: dict[str, list[tuple[str, int]]] = {r.id: [] for r in records}
        dialect = self._conn.dialect.name
        rows = self._conn.execute(
            _field_times(dialect), {"t": tenant_id, "ids": values(list(found), dialect)}
        )
        for sid, category, written in rows:
            found[sid].append((category, int(written)))
        return [(r, sorted(found[r.id])) for r in records]

    def remove_fields(
        self,
        tenant_id: str,
        fields: Sequence[tuple[str, str, int]],
        lookups: Sequence[tuple[str, str]],
    ) -> int:
        deleted = 0
        if fields:
            result = self._conn.execute(
                _DELETE_UNCHANGED,
                [{"t": tenant_id, "s": s, "c": c, "at": at} for s, c, at in fields],
            )
            deleted = int(result.rowcount or 0)
        if lookups:
            self._conn.execute(
                _DELETE_LOOKUP_KIND, [{"t": tenant_id, "s": s, "k": k} for s, k in lookups]
            )
        return deleted

    def find_many(self, tenant_id: str, kind: str, digests: Sequence[bytes]) -> dict[bytes, str]:
        found: dict[bytes, str] = {}
        for start in range(0, len(digests), 500):
            query = select(subject_lookups.c.digest, subject_lookups.c.subject_id).where(
                subject_lookups.c.tenant_id == tenant_id,
                subject_lookups.c.kind == kind,
                subject_lookups.c.digest.in_(list(digests[start : start + 500])),
            )
            found.update((bytes(d), str(s)) for d, s in self._conn.execute(query))
        return found

    def get_many(self, tenant_id: str, subject_ids: Sequence[str]) -> list[SubjectRecord]:
        found: list[SubjectRecord] = []
        for start in range(0, len(subject_ids), 500):
            query = _SUBJECTS.where(
                subjects.c.tenant_id == tenant_id,
                subjects.c.id.in_(list(subject_ids[start : start + 500])),
            )
            found.extend(SubjectRecord(*row) for row in self._conn.execute(query))
        return found

    def erase_many(self, tenant_id: str, subject_ids: Sequence[str], now: int) -> None:
        if not subject_ids:
            return
        dialect = self._conn.dialect.name
        statements = _erasing(dialect)
        params = {"t": tenant_id, "ids": values(subject_ids, dialect), "now": now}
        for statement in statements:
            self._conn.execute(statement, params)

    def _records(
        self, tenant_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[SubjectRecord]:
        query = select(
            subjects.c.id,
            subjects.c.tenant_id,
            subjects.c.status,
            subjects.c.created_at,
            subjects.c.updated_at,
            subjects.c.language,
            subjects.c.closed_at,
        ).where(subjects.c.tenant_id == tenant_id)
        if after is not None:
            created, sid = after
            query = query.where(
                or_(
                    subjects.c.created_at > created,
                    and_(subjects.c.created_at == created, subjects.c.id > sid),
                )
            )
        query = query.order_by(subjects.c.created_at, subjects.c.id).limit(limit)
        return [SubjectRecord(*row) for row in self._conn.execute(query)]

    def import_many(
        self,
        records: Sequence[SubjectRecord],
        fields: Sequence[tuple[str, StoredField]],
        lookups: Sequence[tuple[str, bytes, str]],
        now: int,
    ) -> None:
        if not records:
            return
        tenant_id = records[0].tenant_id
        self._conn.execute(
            _INSERT_SUBJECT,
            [
                {
                    "id": r.id,
                    "tenant_id": r.tenant_id,
                    "status": r.status,
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                    "language": r.language,
                }
                for r in records
            ],
        )
        if fields:
            self._conn.execute(
                _INSERT_FIELD, [_field_row(tenant_id, sid, f, now) for sid, f in fields]
            )
        if lookups:
            try:
                self._conn.execute(
                    _INSERT_LOOKUP,
                    [
                        {"tenant_id": tenant_id, "kind": k, "digest": d, "subject_id": s}
                        for k, d, s in lookups
                    ],
                )
            except SqlIntegrityError:
                raise Conflict(
                    "an identity in this batch is already registered (or appears twice); "
                    "nothing of the batch was stored",
                ) from None


def _field_row(tenant_id: str, subject_id: str, f: StoredField, now: int) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "subject_id": subject_id,
        "category": f.category,
        "kind": f.kind,
        "value": f.value,
        "updated_at": now,
    }


def _conflict(kind: str) -> Conflict:
    return Conflict(
        f"another subject of this tenant already has this {kind}; look it up instead of "
        "registering it again",
        details={"identity": kind},
    )
