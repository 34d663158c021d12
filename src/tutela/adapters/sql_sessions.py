"""Web sessions and one-time links: rows known by the SHA-256 of their bearer token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from tutela.adapters.tables import web_sessions
from tutela.services.ports import AbstractSessionRepository, WebSession

_FIELDS = tuple(WebSession.__dataclass_fields__)
_COLUMNS = [web_sessions.c[name] for name in _FIELDS]
_BYTES = ("token_hash", "identity_digest", "code_hash", "secret_enc")
_INSERT = insert(web_sessions)


def _session(row: Sequence[Any]) -> WebSession:
    values = dict(zip(_FIELDS, row, strict=True))
    for key in _BYTES:
        if values[key] is not None:
            values[key] = bytes(values[key])
    return WebSession(**values)


class SqlSessionRepository(AbstractSessionRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, session: WebSession) -> None:
        self._conn.execute(_INSERT, {name: getattr(session, name) for name in _FIELDS})

    def get(self, token_hash: bytes) -> WebSession | None:
        query = select(*_COLUMNS).where(web_sessions.c.token_hash == token_hash)
        row = self._conn.execute(query).first()
        return None if row is None else _session(row)

    def save(self, session: WebSession) -> None:
        values = {name: getattr(session, name) for name in _FIELDS if name != "token_hash"}
        self._conn.execute(
            update(web_sessions)
            .where(web_sessions.c.token_hash == session.token_hash)
            .values(**values)
        )

    def delete(self, token_hash: bytes) -> None:
        self._conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))

    def delete_account(self, tenant_id: str, realm: str, account: str) -> int:
        result = self._conn.execute(
            delete(web_sessions).where(
                web_sessions.c.tenant_id == tenant_id,
                web_sessions.c.realm == realm,
                web_sessions.c.account == account,
            )
        )
        return int(result.rowcount or 0)

    def prune(self, now: int) -> int:
        result = self._conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
        return int(result.rowcount or 0)
