"""Tenants, API keys and stored declarations in SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tutela.adapters.tables import api_keys, declarations, tenant_retention, tenants
from tutela.services.ports import (
    AbstractApiKeyRepository,
    AbstractDeclarationStore,
    AbstractTenantRepository,
    ApiKeyRecord,
    PolicyVersion,
    RetentionSetting,
)

_GET_KEY = select(
    api_keys.c.id,
    api_keys.c.tenant_id,
    api_keys.c.name,
    api_keys.c.scopes,
    api_keys.c.secret_hash,
    api_keys.c.created_at,
    api_keys.c.created_by,
    api_keys.c.revoked_at,
)


class SqlTenantRepository(AbstractTenantRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, tenant_id: str, name: str, now: int) -> None:
        self._conn.execute(insert(tenants), {"id": tenant_id, "name": name, "created_at": now})

    def get(self, tenant_id: str) -> tuple[str, str, int] | None:
        row = self._conn.execute(
            select(tenants.c.id, tenants.c.name, tenants.c.created_at).where(
                tenants.c.id == tenant_id
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    def list(self) -> list[tuple[str, str, int]]:
        query = select(tenants.c.id, tenants.c.name, tenants.c.created_at).order_by(tenants.c.id)
        return [(r[0], r[1], r[2]) for r in self._conn.execute(query)]

    def retention(self, tenant_id: str) -> Sequence[RetentionSetting]:
        query = (
            select(*tenant_retention.c)
            .where(tenant_retention.c.tenant_id == tenant_id)
            .order_by(tenant_retention.c.purpose)
        )
        return [
            RetentionSetting(r.tenant_id, r.purpose, r.keep, r.set_by, int(r.set_at))
            for r in self._conn.execute(query)
        ]

    def set_retention(self, setting: RetentionSetting) -> None:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        values = {"keep": setting.keep, "set_by": setting.set_by, "set_at": setting.set_at}
        self._conn.execute(
            dialect.insert(tenant_retention)
            .values(tenant_id=setting.tenant_id, purpose=setting.purpose, **values)
            .on_conflict_do_update(
                index_elements=[tenant_retention.c.tenant_id, tenant_retention.c.purpose],
                set_=values,
            )
        )


class SqlApiKeyRepository(AbstractApiKeyRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: ApiKeyRecord) -> None:
        self._conn.execute(
            insert(api_keys),
            {
                "id": record.id,
                "tenant_id": record.tenant_id,
                "name": record.name,
                "scopes": record.scopes,
                "secret_hash": record.secret_hash,
                "created_at": record.created_at,
                "created_by": record.created_by,
                "revoked_at": record.revoked_at,
            },
        )

    def get(self, key_id: str) -> ApiKeyRecord | None:
        row = self._conn.execute(
            _GET_KEY.where(api_keys.c.id == bindparam("k")), {"k": key_id}
        ).first()
        return None if row is None else ApiKeyRecord(*row[:4], bytes(row[4]), *row[5:])

    def list(self, tenant_id: str | None) -> list[ApiKeyRecord]:
        query = _GET_KEY.order_by(api_keys.c.created_at, api_keys.c.id)
        if tenant_id is not None:
            query = query.where(api_keys.c.tenant_id == tenant_id)
        return [ApiKeyRecord(*r[:4], bytes(r[4]), *r[5:]) for r in self._conn.execute(query)]

    def revoke(self, key_id: str, now: int) -> None:
        self._conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(api_keys)).scalar_one())


_VERSION_COLUMNS = (
    declarations.c.id,
    declarations.c.loaded_at,
    declarations.c.source,
    declarations.c.sha256,
    declarations.c.label,
    declarations.c.effective_at,
    declarations.c.published_by,
    declarations.c.material,
    declarations.c.applied_at,
)


def _version(row: Sequence[object]) -> PolicyVersion:
    return PolicyVersion(*row)  # type: ignore[arg-type]


class SqlDeclarationStore(AbstractDeclarationStore):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def current(self, now: int | None = None) -> tuple[int, str, str] | None:
        query = select(declarations.c.id, declarations.c.sha256, declarations.c.document)
        if now is not None:
            query = query.where(
                or_(declarations.c.effective_at.is_(None), declarations.c.effective_at <= now)
            )
        row = self._conn.execute(query.order_by(declarations.c.id.desc()).limit(1)).first()
        return None if row is None else (row[0], row[1], row[2])

    def source(self, version: int) -> str | None:
        row = self._conn.execute(
            select(declarations.c.source).where(declarations.c.id == version)
        ).first()
        return None if row is None else str(row[0])

    def add(
        self,
        source: str,
        sha256: str,
        document: str,
        now: int,
        *,
        label: str | None = None,
        effective_at: int | None = None,
        published_by: str | None = None,
        material: bool | None = None,
    ) -> int:
        result = self._conn.execute(
            insert(declarations).returning(declarations.c.id),
            {
                "loaded_at": now,
                "source": source,
                "sha256": sha256,
                "document": document,
                "label": label,
                "effective_at": effective_at,
                "published_by": published_by,
                "material": material,
            },
        )
        return int(result.scalar_one())

    def versions(self) -> list[PolicyVersion]:
        query = select(*_VERSION_COLUMNS).order_by(declarations.c.id)
        return [_version(row) for row in self._conn.execute(query)]

    def get(self, version: int) -> tuple[PolicyVersion, str] | None:
        query = select(*_VERSION_COLUMNS, declarations.c.document).where(
            declarations.c.id == version
        )
        row = self._conn.execute(query).first()
        return None if row is None else (_version(row[:-1]), str(row[-1]))

    def mark_applied(self, version: int, now: int) -> bool:
        result = self._conn.execute(
            update(declarations)
            .where(declarations.c.id == version, declarations.c.applied_at.is_(None))
            .values(applied_at=now)
        )
        return result.rowcount == 1
