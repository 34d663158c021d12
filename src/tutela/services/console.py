"""The admin console's sessions: a privacy officer signs in with an API key.

The key (scope ``dpo``, ``admin`` or ``platform``) is checked once at sign-in and never
stored: the session keeps the key's id, and every request checks again that the key
exists and is not revoked, so revoking a key ends its console sessions at once. Sessions
live in the web-session table (realm ``admin``) known by the SHA-256 of their bearer
token, like the privacy center's (``services/sessions.py``).

A key acts in its own tenant with all its scopes. A platform key may choose another
tenant to work in; there it acts with the ``platform`` scope only (policy versions, audit
verification, consent counts), never with the tenant's own ``dpo`` or ``admin`` rights.
Sign-in, sign-out, failed sign-ins and tenant changes are audited; after 20 failed
wrong keys in an hour from a client address, further wrong keys are refused without an audit
entry until the hour has passed (a right key always signs in).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from tutela.domain.access import Principal
from tutela.domain.audit import SYSTEM_CHAIN, AuditEvent
from tutela.domain.errors import Forbidden, NotFound, Unauthenticated
from tutela.services import sessions, tenants
from tutela.services.context import Context
from tutela.services.ports import ApiKeyRecord, WebSession
from tutela.services.requests import HOUR
from tutela.services.sessions import MINUTE, TOUCH_EVERY, Realm

ADMIN = Realm("admin", idle_minutes=30, absolute_hours=8)
#: the scopes that open the console
CONSOLE_SCOPES = frozenset({"dpo", "admin", "platform"})
#: at most this many revealed requests are remembered per session
REVEALED_KEPT = 200
#: failed sign-ins allowed per client address and hour (keys cannot be guessed; this keeps
#: a flood of wrong keys out of the audit log)
FAILURES_PER_HOUR = 20
FAILURE_KIND = "admin-sign-in"


@dataclass(frozen=True, slots=True)
class Officer:
    """The person behind a console session: the key they signed in with, where they work."""

    session: WebSession
    key_id: str
    key_name: str
    home: str  # the key's own tenant
    key_scopes: frozenset[str]
    data: dict[str, Any]

    @property
    def tenant(self) -> str:
        return self.session.tenant_id

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    @property
    def principal(self) -> Principal:
        """Who acts: the key's scopes at home, only ``platform`` in a chosen tenant."""
        scopes = self.key_scopes if self.tenant == self.home else self.key_scopes & {"platform"}
        return Principal(self.tenant, scopes, self.actor)

    @property
    def may_choose_tenant(self) -> bool:
        return "platform" in self.key_scopes

    def revealed(self, request_id: str) -> bool:
        return f"{self.tenant}/{request_id}" in self.data.get("revealed", ())


def _data(session: WebSession) -> dict[str, Any]:
    loaded = json.loads(session.data or "{}")
    return loaded if isinstance(loaded, dict) else {}


def _officer(session: WebSession, key: ApiKeyRecord) -> Officer:
    return Officer(
        session,
        key.id,
        key.name,
        key.tenant_id,
        frozenset(key.scopes.split()),
        _data(session),
    )


def _failures(ctx: Context, client: str | None) -> bytes | None:
    """The key failed sign-ins from a client address are counted under (no address kept)."""
    return ctx.crypto.index("_web", "admin-sign-in", client) if client else None


def _failed(ctx: Context, api_key: str, client: str | None, now: int) -> None:
    """Audit a failed sign-in; past the hourly limit of a client address, refuse it without
    an audit entry (a right key is never refused)."""
    match = tenants.TOKEN.match(api_key.strip())
    limit = _failures(ctx, client)
    with ctx.uow() as uow:
        if limit is not None:
            if uow.requests.count_rate(FAILURE_KIND, limit, now - HOUR) >= FAILURES_PER_HOUR:
                raise Forbidden(
                    "too many failed sign-ins from this address; try again within the hour",
                    details={"reason": "rate_limited"},
                )
            uow.requests.note_rate(FAILURE_KIND, limit, now)
        uow.audit.append(
            AuditEvent(
                "admin.sign_in_failed",
                f"key:{match.group(1)}" if match else "admin:unknown",
                SYSTEM_CHAIN,
                None,
                (),
                {"client": client is not None},
            ),
            now,
        )
        uow.commit()


def sign_in(ctx: Context, api_key: str, *, client: str | None = None) -> tuple[str, Officer]:
    """Exchange an API key for a console session; returns the bearer token and the officer.

    Every failure gives the same Unauthenticated answer (and an audit entry in the
    installation's chain naming the key id when the text had the shape of a key).
    """
    now = ctx.clock()
    try:
        who = tenants.authenticate(ctx, api_key)
    except Unauthenticated:
        _failed(ctx, api_key, client, now)
        raise Unauthenticated(
            "this API key is not valid: it is unknown, mistyped or revoked",
            details={"reason": "bad_key"},
        ) from None
    if not who.scopes & CONSOLE_SCOPES:
        raise Forbidden(
            "this key has only the app scope; the console needs a key with the dpo, admin "
            "or platform scope",
            details={"reason": "scope"},
        )
    key_id = who.actor.removeprefix("key:")
    token = sessions.new_token()
    with ctx.uow() as uow:
        record = uow.api_keys.get(key_id)
        if record is None:  # revoked and deleted in between
            raise Unauthenticated("this API key is not valid", details={"reason": "bad_key"})
        uow.sessions.prune(now)
        session = WebSession(
            token_hash=sessions.token_hash(token),
            tenant_id=who.tenant_id,
            realm=ADMIN.name,
            state="active",
            account=key_id,
            scopes=" ".join(sorted(who.scopes)),
            identity_digest=None,
            code_hash=None,
            attempts=0,
            data=json.dumps({"home": who.tenant_id}),
            secret_enc=None,
            created_at=now,
            seen_at=now,
            expires_at=now + ADMIN.absolute_hours * 60 * MINUTE,
        )
        uow.sessions.add(session)
        uow.audit.append(
            AuditEvent(
                "admin.sign_in",
                who.actor,
                who.tenant_id,
                None,
                (),
                {"scopes": sorted(who.scopes), "method": "api key"},
            ),
            now,
        )
        uow.commit()
    return token, _officer(session, record)


def load(ctx: Context, token: str | None) -> Officer | None:
    """The officer of an active console session, or None: unknown, expired, idle too long,
    or its key revoked since (the session is then deleted and the end audited)."""
    if not token:
        return None
    hashed = sessions.token_hash(token)
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        found = uow.sessions.get(hashed)
        if found is None or found.realm != ADMIN.name or found.state != "active":
            return None
        key = uow.api_keys.get(found.account or "")
    home = _data(found).get("home")
    revoked = key is None or key.revoked_at is not None or key.tenant_id != home
    idle = now - found.seen_at > ADMIN.idle_minutes * MINUTE
    if revoked or idle or now > found.expires_at:
        with ctx.uow() as uow:
            uow.sessions.delete(hashed)
            if revoked:
                uow.audit.append(
                    AuditEvent(
                        "admin.session_ended",
                        f"key:{found.account}",
                        str(home or found.tenant_id),
                        None,
                        (),
                        {"reason": "key revoked"},
                    ),
                    now,
                )
            uow.commit()
        return None
    assert key is not None
    if now - found.seen_at > TOUCH_EVERY:
        found = replace(found, seen_at=now)
        with ctx.uow() as uow:
            uow.sessions.save(found)
            uow.commit()
    return _officer(found, key)


def sign_out(ctx: Context, token: str | None) -> None:
    """End the session (a copied cookie opens nothing afterwards)."""
    if not token:
        return
    hashed = sessions.token_hash(token)
    with ctx.uow() as uow:
        found = uow.sessions.get(hashed)
        if found is None or found.realm != ADMIN.name:
            return
        uow.sessions.delete(hashed)
        uow.audit.append(
            AuditEvent(
                "admin.sign_out",
                f"key:{found.account}",
                str(_data(found).get("home") or found.tenant_id),
                None,
                (),
                {},
            ),
            ctx.clock(),
        )
        uow.commit()


def choose_tenant(ctx: Context, officer: Officer, tenant: str) -> Officer:
    """A platform key works in another tenant from now on (audited in that tenant)."""
    if not officer.may_choose_tenant:
        raise Forbidden(
            "only a key with the platform scope may work in another tenant",
            details={"reason": "scope"},
        )
    now = ctx.clock()
    with ctx.uow() as uow:
        if uow.tenants.get(tenant) is None:
            raise NotFound(f"no tenant {tenant}", details={"tenant": tenant})
        session = replace(officer.session, tenant_id=tenant, seen_at=now)
        uow.sessions.save(session)
        uow.audit.append(
            AuditEvent(
                "admin.tenant_chosen", officer.actor, tenant, None, (), {"from": officer.tenant}
            ),
            now,
        )
        uow.commit()
    return replace(officer, session=session)


def remember(ctx: Context, officer: Officer, **values: Any) -> Officer:
    """Keep small values without personal data in the session (e.g. the last audit check)."""
    data = {**officer.data, **values}
    session = replace(officer.session, data=json.dumps(data))
    with ctx.uow() as uow:
        uow.sessions.save(session)
        uow.commit()
    return replace(officer, session=session, data=data)


def remember_revealed(ctx: Context, officer: Officer, request_id: str) -> Officer:
    """The identity of this request is shown to this session from now on."""
    mark = f"{officer.tenant}/{request_id}"
    kept = [r for r in officer.data.get("revealed", []) if r != mark]
    return remember(ctx, officer, revealed=[*kept, mark][-REVEALED_KEPT:])
