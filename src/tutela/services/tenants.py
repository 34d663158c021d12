"""Tenants and their API keys.

A key is ``tut_<id>_<secret>``: the id names the row, the secret is 256 random bits stored
only as its SHA-256 (a high-entropy token needs no slow hash) and shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from tutela.domain.access import Principal, parse_scopes
from tutela.domain.audit import SYSTEM_CHAIN, AuditEvent
from tutela.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork, ApiKeyRecord

DEFAULT_TENANT = "default"
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TOKEN = re.compile(r"^tut_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    record: ApiKeyRecord
    token: str  # shown once, never stored

    def as_dict(self) -> dict[str, object]:
        return {**key_dict(self.record), "token": self.token}


def key_dict(record: ApiKeyRecord) -> dict[str, object]:
    from tutela.domain.subjects import iso

    return {
        "id": record.id,
        "tenant": record.tenant_id,
        "name": record.name,
        "scopes": record.scopes.split(),
        "created_at": iso(record.created_at),
        "created_by": record.created_by,
        "revoked": record.revoked_at is not None,
    }


def _secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def check_tenant_id(tenant_id: str) -> str:
    if not TENANT_ID.match(tenant_id):
        raise InvalidInput(
            f"{tenant_id!r} is not a valid tenant id; use 1-63 lowercase letters, digits "
            "and dashes, starting with a letter or digit",
            details={"tenant": tenant_id},
        )
    return tenant_id


def add_tenant(uow: AbstractUnitOfWork, tenant_id: str, name: str, actor: str, now: int) -> None:
    """Create a tenant and its audit chain inside an open unit of work."""
    check_tenant_id(tenant_id)
    if uow.tenants.get(tenant_id) is not None:
        raise Conflict(f"tenant {tenant_id} already exists", details={"tenant": tenant_id})
    uow.tenants.add(tenant_id, name, now)
    uow.audit.ensure_chain(tenant_id)
    uow.audit.append(
        AuditEvent("tenant.create", actor, SYSTEM_CHAIN, None, (), {"tenant": tenant_id}), now
    )
    uow.audit.append(AuditEvent("tenant.create", actor, tenant_id), now)


def create_tenant(ctx: Context, who: Principal, tenant_id: str, name: str) -> dict[str, object]:
    who.require("tenants.manage")
    now = ctx.clock()
    with ctx.uow() as uow:
        add_tenant(uow, tenant_id, name.strip() or tenant_id, who.actor, now)
        uow.commit()
    return {"id": tenant_id, "name": name}


def list_tenants(ctx: Context, who: Principal) -> list[dict[str, object]]:
    from tutela.domain.subjects import iso

    with ctx.uow(read_only=True) as uow:
        rows = uow.tenants.list()
    if not who.can("tenants.manage"):
        rows = [r for r in rows if r[0] == who.tenant_id]
    return [{"id": t, "name": n, "created_at": iso(c)} for t, n, c in rows]


def new_key(
    uow: AbstractUnitOfWork, tenant_id: str, name: str, scopes: frozenset[str], actor: str, now: int
) -> IssuedKey:
    """Issue a key inside an open unit of work."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        key_id, tenant_id, name, " ".join(sorted(scopes)), _secret_hash(secret), now, actor, None
    )
    uow.api_keys.add(record)
    uow.audit.append(
        AuditEvent(
            "key.issue", actor, tenant_id, None, (), {"key": key_id, "scopes": sorted(scopes)}
        ),
        now,
    )
    return IssuedKey(record, f"tut_{key_id}_{secret}")


def _check_grant(who: Principal, tenant_id: str, scopes: frozenset[str]) -> None:
    who.require("keys.manage")
    if "platform" not in who.scopes:
        if tenant_id != who.tenant_id:
            raise Forbidden("a tenant admin can only manage keys of its own tenant")
        if "platform" in scopes:
            raise Forbidden("only a platform key can issue platform keys")


def issue_key(
    ctx: Context, who: Principal, tenant_id: str, name: str, scopes: str | list[str]
) -> IssuedKey:
    wanted = parse_scopes(scopes)
    _check_grant(who, tenant_id, wanted)
    now = ctx.clock()
    with ctx.uow() as uow:
        if uow.tenants.get(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}; create it first", details={"tenant": tenant_id})
        issued = new_key(uow, tenant_id, name or "unnamed", wanted, who.actor, now)
        uow.commit()
    return issued


def list_keys(ctx: Context, who: Principal, tenant_id: str | None) -> list[dict[str, object]]:
    who.require("keys.manage")
    if "platform" not in who.scopes:
        tenant_id = who.tenant_id
    with ctx.uow(read_only=True) as uow:
        return [key_dict(r) for r in uow.api_keys.list(tenant_id)]


def revoke_key(ctx: Context, who: Principal, key_id: str) -> None:
    now = ctx.clock()
    with ctx.uow() as uow:
        record = uow.api_keys.get(key_id)
        if record is None or ("platform" not in who.scopes and record.tenant_id != who.tenant_id):
            raise NotFound(f"no key {key_id}", details={"key": key_id})
        _check_grant(who, record.tenant_id, frozenset(record.scopes.split()) - {"platform"})
        uow.api_keys.revoke(key_id, now)
        uow.audit.append(
            AuditEvent("key.revoke", who.actor, record.tenant_id, None, (), {"key": key_id}), now
        )
        uow.commit()


def authenticate(ctx: Context, token: str) -> Principal:
    """The principal of an API key, or Unauthenticated (same answer for every failure)."""
    match = TOKEN.match(token.strip())
    failure = Unauthenticated("missing, malformed, unknown or revoked API key")
    if match is None:
        raise failure
    key_id, secret = match.groups()
    with ctx.uow(read_only=True) as uow:
        record = uow.api_keys.get(key_id)
    if record is None or record.revoked_at is not None:
        raise failure
    if not hmac.compare_digest(record.secret_hash, _secret_hash(secret)):
        raise failure
    return Principal(record.tenant_id, frozenset(record.scopes.split()), f"key:{key_id}")
