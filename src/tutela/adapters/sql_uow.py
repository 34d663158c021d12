"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from tutela.adapters.database import READ_ONLY
from tutela.adapters.sql_admin import (
    SqlApiKeyRepository,
    SqlDeclarationStore,
    SqlTenantRepository,
)
from tutela.adapters.sql_audit import Sealer, SqlAuditLog
from tutela.adapters.sql_consent import SqlConsentRepository
from tutela.adapters.sql_incidents import SqlIncidentRepository
from tutela.adapters.sql_lifecycle import SqlLifecycleRepository
from tutela.adapters.sql_requests import SqlRequestRepository
from tutela.adapters.sql_sessions import SqlSessionRepository
from tutela.adapters.sql_subjects import SqlSubjectRepository
from tutela.adapters.sql_sunset import SqlSunsetRepository
from tutela.adapters.sql_visitors import SqlVisitorRepository
from tutela.services.ports import AbstractUnitOfWork


class SqlUnitOfWork(AbstractUnitOfWork):
    def __init__(self, engine: Engine, sealer: Sealer, *, read_only: bool = False) -> None:
        self._engine = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
        self._sealer = sealer
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        conn = self._engine.connect()
        conn.begin()
        self._conn = conn
        self.subjects = SqlSubjectRepository(conn)
        self.audit = SqlAuditLog(conn, self._sealer)
        self.tenants = SqlTenantRepository(conn)
        self.api_keys = SqlApiKeyRepository(conn)
        self.declarations = SqlDeclarationStore(conn)
        self.consent = SqlConsentRepository(conn)
        self.requests = SqlRequestRepository(conn)
        self.lifecycle = SqlLifecycleRepository(conn)
        self.visitors = SqlVisitorRepository(conn)
        self.sunsets = SqlSunsetRepository(conn)
        self.incidents = SqlIncidentRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        return self

    def commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()

    def rollback(self) -> None:
        if self._conn is not None and self._conn.in_transaction():
            self._conn.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
