"""Web sessions: sign-in by an emailed one-time code, sessions, one-time links, CSRF tokens.

Used by the privacy center (realm ``privacy``: the account is the subject id) and meant for
every web page that needs a signed-in person. A bearer token lives only in the browser's
cookie (or in a link sent by mail); the database keeps its SHA-256, so a copy of the
database opens no session. Tokens change at each step of a sign-in (no session fixation).

The one-time code follows the rules of request verification (``services/requests.py``):
6 digits from ``secrets``, valid 10 minutes, 5 tries, at most 3 codes per address and 10 per
client address an hour. An address Tutela does not know gets the same answer, the same
work and the same timing as a known one, so the pages never tell who has an account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from tutela.domain import identities
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Forbidden, InvalidInput, NotFound
from tutela.services import mail
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork, WebSession
from tutela.services.requests import (
    CODE_ATTEMPTS,
    CODE_MINUTES,
    CODES_PER_CLIENT_PER_HOUR,
    CODES_PER_IDENTITY_PER_HOUR,
    HOUR,
)

MINUTE = 60 * 1_000_000
#: a session's last use is written at most this often (a page view is a read, not a write)
TOUCH_EVERY = MINUTE
_CSRF_CHAIN = "_web"


@dataclass(frozen=True, slots=True)
class Realm:
    """A family of pages with its own sessions: who signs in and for how long."""

    name: str
    idle_minutes: int = 30
    absolute_hours: int = 12
    #: accounts are data-subject ids (audit entries then name the subject)
    subjects: bool = False

    def actor(self, account: str | None) -> str:
        return f"{'subject' if self.subjects else self.name}:{account or 'unknown'}"


PRIVACY = Realm("privacy", idle_minutes=30, absolute_hours=12, subjects=True)
GUARDIAN = Realm("guardian", idle_minutes=48 * 60, absolute_hours=48, subjects=True)

#: finds the account an address belongs to, inside the sign-in's unit of work
AccountOf = Callable[[AbstractUnitOfWork, bytes], str | None]
#: the mail to send: (subject, body) for a code, or for an unknown address (code None)
Compose = Callable[[str | None], tuple[str, str] | None]


def new_token() -> str:
    """A bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def csrf_token(ctx: Context, token: str) -> str:
    """The synchronizer token of the session (or anonymous visit) that holds ``token``."""
    mac = ctx.crypto.index(_CSRF_CHAIN, "csrf", token)
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_valid(ctx: Context, token: str | None, given: str | None) -> bool:
    """Does the form's token belong to this session? (constant time)"""
    if not token or not given:
        return False
    return hmac.compare_digest(csrf_token(ctx, token).encode(), given.encode())


def _code_hash(ctx: Context, tenant: str, hashed: bytes, code: str) -> bytes:
    return ctx.crypto.index(tenant, "web-otp", f"{hashed.hex()}:{code}")


def _rate_limits(
    ctx: Context, tenant: str, digest: bytes, client: str | None
) -> list[tuple[str, bytes, int, str]]:
    limits = [("web-identity", digest, CODES_PER_IDENTITY_PER_HOUR, "this address")]
    if client:
        key = ctx.crypto.index(tenant, "rate-client", client)
        limits.append(("web-client", key, CODES_PER_CLIENT_PER_HOUR, "this client address"))
    return limits


def start_sign_in(
    ctx: Context,
    realm: Realm,
    tenant: str,
    email: str,
    *,
    account_of: AccountOf,
    compose: Compose,
    client: str | None = None,
) -> str:
    """Send a sign-in code to ``email`` (if it has an account); returns the pending token.

    The answer is the same for every address: a pending sign-in is stored either way (for
    an unknown address with a code nobody was sent), so the next page looks alike.
    """
    try:
        normalized = identities.normalize(identities.EMAIL_CATEGORY, email, None)
    except InvalidInput:
        raise InvalidInput(
            "this is not an email address; write it as name@example.com",
            details={"reason": "bad_email", "field": "email"},
        ) from None
    digest = ctx.crypto.index(tenant, "email", normalized)
    token = new_token()
    hashed = token_hash(token)
    code = f"{secrets.randbelow(10**6):06d}"
    now = ctx.clock()
    with ctx.uow() as uow:
        if uow.tenants.get(tenant) is None:
            raise NotFound(f"no tenant {tenant}", details={"tenant": tenant})
        limits = _rate_limits(ctx, tenant, digest, client)
        for kind, key, limit, what in limits:
            if uow.requests.count_rate(kind, key, now - HOUR) >= limit:
                raise Forbidden(
                    f"too many codes were asked for {what}; try again within the hour",
                    details={"reason": "rate_limited"},
                )
        for kind, key, _limit, _what in limits:
            uow.requests.note_rate(kind, key, now)
        uow.sessions.prune(now)
        account = account_of(uow, digest)
        uow.sessions.add(
            WebSession(
                token_hash=hashed,
                tenant_id=tenant,
                realm=realm.name,
                state="pending",
                account=account,
                scopes="",
                identity_digest=digest,
                code_hash=_code_hash(ctx, tenant, hashed, code),
                attempts=0,
                data=None,
                secret_enc=None,
                created_at=now,
                seen_at=now,
                expires_at=now + CODE_MINUTES * MINUTE,
            )
        )
        message = compose(code if account is not None else None)
        if message is not None:
            mail.queue(ctx, uow, tenant, f"{realm.name}.sign_in", normalized, *message, now)
        uow.audit.append(
            AuditEvent(
                f"{realm.name}.code_sent",
                realm.actor(account),
                tenant,
                account if realm.subjects else None,
                (),
                {"known": account is not None},
            ),
            now,
        )
        uow.commit()
    return token


def verify_sign_in(
    ctx: Context, realm: Realm, tenant: str, pending: str | None, code: str
) -> tuple[str, WebSession]:
    """Check the code of a pending sign-in; returns the new session's token and row."""
    now = ctx.clock()
    hashed = token_hash(pending or "")
    with ctx.uow() as uow:
        found = uow.sessions.get(hashed) if pending else None
        if (
            found is None
            or found.realm != realm.name
            or found.tenant_id != tenant
            or found.state != "pending"
        ):
            raise InvalidInput(
                "no sign-in is waiting for a code in this browser; start again with your "
                "email address",
                details={"reason": "no_pending"},
            )
        if now > found.expires_at or found.code_hash is None:
            uow.sessions.delete(hashed)
            uow.commit()
            raise InvalidInput("the code expired; ask for a new one", details={"reason": "expired"})
        given = "".join(ch for ch in code if ch.isdigit())
        expected = found.code_hash
        matched = hmac.compare_digest(_code_hash(ctx, tenant, hashed, given), expected)
        if not matched or found.account is None:
            attempts = found.attempts + 1
            left = CODE_ATTEMPTS - attempts
            if left <= 0:
                uow.sessions.delete(hashed)
            else:
                uow.sessions.save(replace(found, attempts=attempts))
            uow.audit.append(
                AuditEvent(
                    f"{realm.name}.code_failed",
                    realm.actor(found.account),
                    tenant,
                    found.account if realm.subjects else None,
                    (),
                    {},
                ),
                now,
            )
            uow.commit()
            message = (
                "wrong code; that was the last try, ask for a new code"
                if left <= 0
                else f"wrong code; {left} tries left"
            )
            raise InvalidInput(message, details={"reason": "wrong_code", "tries_left": left})
        uow.sessions.delete(hashed)
        token = new_token()
        session = replace(
            found,
            token_hash=token_hash(token),
            state="active",
            code_hash=None,
            attempts=0,
            created_at=now,
            seen_at=now,
            expires_at=now + realm.absolute_hours * 60 * MINUTE,
        )
        uow.sessions.add(session)
        uow.audit.append(
            AuditEvent(
                f"{realm.name}.sign_in",
                realm.actor(found.account),
                tenant,
                found.account if realm.subjects else None,
                (),
                {"method": "email one-time code"},
            ),
            now,
        )
        uow.commit()
    return token, session


def load(ctx: Context, realm: Realm, tenant: str, token: str | None) -> WebSession | None:
    """The active session this token opens, or None (expired, idle too long, unknown)."""
    if not token:
        return None
    hashed = token_hash(token)
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        found = uow.sessions.get(hashed)
    if (
        found is None
        or found.realm != realm.name
        or found.tenant_id != tenant
        or found.state != "active"
    ):
        return None
    idle = now - found.seen_at > realm.idle_minutes * MINUTE
    if now > found.expires_at or idle:
        with ctx.uow() as uow:
            uow.sessions.delete(hashed)
            uow.commit()
        return None
    if now - found.seen_at > TOUCH_EVERY:
        found = replace(found, seen_at=now)
        with ctx.uow() as uow:
            uow.sessions.save(found)
            uow.commit()
    return found


def end(ctx: Context, realm: Realm, token: str | None) -> None:
    """Sign out: the session's row is deleted (a copied cookie opens nothing afterwards)."""
    if not token:
        return
    hashed = token_hash(token)
    with ctx.uow() as uow:
        found = uow.sessions.get(hashed)
        if found is None or found.realm != realm.name:
            return
        uow.sessions.delete(hashed)
        uow.audit.append(
            AuditEvent(
                f"{realm.name}.sign_out",
                realm.actor(found.account),
                found.tenant_id,
                found.account if realm.subjects else None,
                (),
                {},
            ),
            ctx.clock(),
        )
        uow.commit()


def end_all(ctx: Context, uow: AbstractUnitOfWork, realm: Realm, tenant: str, account: str) -> int:
    """End every session of an account inside an open unit of work (e.g. after erasure)."""
    return uow.sessions.delete_account(tenant, realm.name, account)


# -- one-time links -------------------------------------------------------------------------


def _secret_aad(hashed: bytes) -> bytes:
    return b"tutela:web-link:" + hashed.hex().encode()


def issue_link(
    uow: AbstractUnitOfWork,
    ctx: Context,
    realm: Realm,
    tenant: str,
    account: str,
    *,
    data: str | None,
    secret: str | None,
    now: int,
) -> str:
    """A one-time link token (inside an open unit of work): ``data`` is JSON without personal
    values, ``secret`` is stored encrypted (e.g. the address the link was sent to)."""
    token = new_token()
    hashed = token_hash(token)
    uow.sessions.add(
        WebSession(
            token_hash=hashed,
            tenant_id=tenant,
            realm=realm.name,
            state="pending",
            account=account,
            scopes="",
            identity_digest=None,
            code_hash=None,
            attempts=0,
            data=data,
            secret_enc=(
                ctx.crypto.seal_blob("web-link", _secret_aad(hashed), secret.encode())
                if secret is not None
                else None
            ),
            created_at=now,
            seen_at=now,
            expires_at=now + realm.absolute_hours * 60 * MINUTE,
        )
    )
    return token


def open_link(ctx: Context, realm: Realm, tenant: str, token: str) -> tuple[WebSession, str | None]:
    """The link's row and its decrypted secret; NotFound when it is unknown, used or expired."""
    hashed = token_hash(token)
    with ctx.uow(read_only=True) as uow:
        found = uow.sessions.get(hashed)
    if (
        found is None
        or found.realm != realm.name
        or found.tenant_id != tenant
        or ctx.clock() > found.expires_at
    ):
        raise NotFound(
            "this link is not valid any more: it was used already or it expired; ask for a new one",
            details={"reason": "link_expired"},
        )
    secret = (
        ctx.crypto.open_blob("web-link", _secret_aad(hashed), found.secret_enc).decode()
        if found.secret_enc is not None
        else None
    )
    return found, secret


def use_link(uow: AbstractUnitOfWork, token: str) -> None:
    """Spend a one-time link inside the unit of work that does what it allowed."""
    uow.sessions.delete(token_hash(token))
