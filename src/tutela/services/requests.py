"""Data-subject requests: intake, identity verification, deadlines, decisions.

Execution (what a request does to the data) lives in ``request_runner.py``. Every state
change is written with its history entry and its audit entry in one transaction. The
identity a request names is stored as a blind index plus a ciphertext bound to the request
id; details such as corrected values are encrypted the same way.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tutela.domain import identities
from tutela.domain import requests as rules
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from tutela.domain.subjects import iso
from tutela.services import mail, mail_texts
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork, RequestRecord, Verification

CODE_MINUTES = 10
CODE_ATTEMPTS = 5
CODES_PER_IDENTITY_PER_HOUR = 3
CODES_PER_CLIENT_PER_HOUR = 10
HOUR = 3600 * 1_000_000
DAY = 86400 * 1_000_000

#: documented ways an operator may verify a subject outside the one-time code
VERIFICATION_METHODS = (
    "account_login",
    "id_document",
    "in_person",
    "signed_letter",
    "phone_call",
    "existing_relationship",
)
_KIND_CATEGORY = {"email": identities.EMAIL_CATEGORY, "phone": identities.PHONE_CATEGORY}


def _today(ctx: Context) -> dt.date:
    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC).date()


def _end_of(day: dt.date) -> int:
    moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000) - 1


def _day_of(micros: int) -> dt.date:
    return dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC).date()


def _rule(ctx: Context, jurisdiction: str) -> rules.DeadlineRule:
    return rules.rule_for(jurisdiction, ctx.pipl_response_days)


def _aad(request_id: str, part: str) -> bytes:
    return f"tutela:request:{request_id}:{part}".encode()


def identity_of(ctx: Context, record: RequestRecord) -> str:
    """The normalised email or phone the request names (decrypted for delivery/execution)."""
    return ctx.crypto.open_blob(
        "request", _aad(record.id, "identity"), record.identity_enc
    ).decode()


def details_of(ctx: Context, record: RequestRecord) -> dict[str, Any]:
    if record.details_enc is None:
        return {}
    raw = ctx.crypto.open_blob("request", _aad(record.id, "details"), record.details_enc)
    parsed: dict[str, Any] = json.loads(raw)
    return parsed


def _transition(
    uow: AbstractUnitOfWork,
    ctx: Context,
    who: Principal,
    record: RequestRecord,
    state: str,
    note: str,
    now: int,
    **changes: Any,
) -> RequestRecord:
    new_state = rules.transition(record.state, state)
    updated = replace(record, state=new_state, updated_at=now, **changes)
    uow.requests.save(updated)
    uow.requests.add_event(
        record.tenant_id, record.id, now, record.state, new_state, who.actor, note
    )
    uow.audit.append(
        AuditEvent(
            f"request.{new_state}",
            who.actor,
            record.tenant_id,
            record.subject_id,
            (),
            {"request": record.id, "type": record.type, "from": record.state},
        ),
        now,
    )
    return updated


def _check_details(ctx: Context, kind: str, details: Mapping[str, Any] | None) -> dict[str, Any]:
    details = dict(details or {})
    if kind == "rectification":
        from tutela.domain.subjects import check_changes

        fields = details.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise InvalidInput(
                "a rectification request needs the corrected fields, e.g. "
                '{"fields": {"user.name": "Ada Example"}}'
            )
        check_changes(ctx.declarations, fields, today=_today(ctx), creating=False)
        return {"fields": fields}
    if kind == "objection":
        purpose = details.get("purpose")
        declared = {p.key: p for p in getattr(ctx.declarations, "purposes", ())}
        if purpose != "direct_marketing" and purpose not in declared:
            raise InvalidInput(
                "an objection names a purpose based on legitimate interests or a public task, "
                f"or direct_marketing; declared purposes: {', '.join(sorted(declared))}"
            )
        if (
            purpose in declared
            and declared[purpose].legal_basis not in ("legitimate_interests", "public_task")
            and not declared[purpose].use.startswith("marketing")
        ):
            raise InvalidInput(
                f"{purpose} is based on {declared[purpose].legal_basis}; one objects to "
                "legitimate interests, a public task or direct marketing (withdraw consent "
                "instead)"
            )
        return {"purpose": purpose}
    if kind in ("access", "portability"):
        return _package_scope(ctx, kind, details)
    if details:
        raise InvalidInput(f"a {kind} request takes no details")
    return {}


def _package_scope(ctx: Context, kind: str, details: dict[str, Any]) -> dict[str, Any]:
    """What an access package holds: some data categories only, some of its files only."""
    from tutela.services.packages import FORMATS

    clean: dict[str, Any] = {}
    categories = details.pop("categories", None)
    formats = details.pop("formats", None)
    if details:
        raise InvalidInput(
            f"a {kind} request takes only categories and formats, not {', '.join(sorted(details))}"
        )
    if categories is not None:
        declared: frozenset[str] = getattr(ctx.declarations, "category_keys", frozenset())
        if (
            not isinstance(categories, list)
            or not categories
            or not all(
                isinstance(c, str) and any(k == c or k.startswith(c + ".") for k in declared)
                for c in categories
            )
        ):
            raise InvalidInput(
                "categories must list declared data categories (or their parents), e.g. "
                '["user.contact"]',
                details={"field": "categories"},
            )
        clean["categories"] = sorted(set(categories))
    if formats is not None:
        if not isinstance(formats, list) or not formats or not set(formats) <= set(FORMATS):
            raise InvalidInput(
                f"formats must list one or more of {', '.join(FORMATS)}",
                details={"field": "formats"},
            )
        clean["formats"] = [f for f in FORMATS if f in formats]
    return clean


def create(
    ctx: Context,
    who: Principal,
    kind: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    jurisdiction: str | None = None,
    language: str | None = None,
    details: Mapping[str, Any] | None = None,
    verified_by: str | None = None,
) -> dict[str, Any]:
    """Receive a request naming the subject by email or phone."""
    who.require("requests.create")
    rules.check_type(kind)
    if (email is None) == (phone is None):
        raise InvalidInput("name the subject by exactly one identity: an email or a phone")
    identity_kind, raw = ("email", email) if email is not None else ("phone", phone)
    assert raw is not None
    region = ctx.declarations.default_phone_region
    normalized = identities.normalize(_KIND_CATEGORY[identity_kind], raw, region)
    declared = tuple(getattr(ctx.declarations, "jurisdictions", ()) or ("gdpr",))
    jurisdiction = jurisdiction or declared[0]
    rule = _rule(ctx, jurisdiction)
    languages = tuple(getattr(ctx.declarations, "languages", ()) or ("en",))
    language = language or languages[0]
    if language not in languages:
        raise InvalidInput(
            f"language {language!r} is not declared; use one of {', '.join(languages)}"
        )
    if verified_by is not None:
        who.require("requests.manage")
        _check_method(verified_by)
    clean = _check_details(ctx, kind, details)
    tenant = who.tenant_id
    digest = ctx.crypto.index(tenant, identity_kind, normalized)
    request_id = ctx.new_id()
    now = ctx.clock()
    received = _day_of(now)
    record = RequestRecord(
        id=request_id,
        tenant_id=tenant,
        type=kind,
        state="received",
        jurisdiction=jurisdiction,
        language=language,
        identity_kind=identity_kind,
        identity_digest=digest,
        identity_enc=ctx.crypto.seal_blob(
            "request", _aad(request_id, "identity"), normalized.encode()
        ),
        subject_id=None,
        received_at=now,
        due_at=_end_of(rules.due_date(rule, received, 0, False)),
        details_enc=(
            ctx.crypto.seal_blob("request", _aad(request_id, "details"), json.dumps(clean).encode())
            if clean
            else None
        ),
        updated_at=now,
    )
    with ctx.uow() as uow:
        for other in uow.requests.by_identity(tenant, identity_kind, digest):
            if other.type == kind and other.state in rules.OPEN_STATES:
                raise Conflict(
                    f"an open {kind} request for this {identity_kind} already exists: {other.id}",
                    details={"request_id": other.id},
                )
        subject_id = uow.subjects.find(tenant, identity_kind, digest)
        record = replace(record, subject_id=subject_id)
        uow.requests.add(record)
        uow.requests.add_event(
            tenant, request_id, now, None, "received", who.actor, f"{kind} request received"
        )
        uow.audit.append(
            AuditEvent(
                "request.received",
                who.actor,
                tenant,
                subject_id,
                (),
                {"request": request_id, "type": kind, "jurisdiction": jurisdiction},
            ),
            now,
        )
        if verified_by is not None:
            record = _transition(
                uow,
                ctx,
                who,
                record,
                "verified",
                f"identity verified by {verified_by}",
                now,
                verified_at=now,
                verified_by=verified_by,
            )
        uow.commit()
    return view(ctx, record)


def _check_method(method: str) -> None:
    if method not in VERIFICATION_METHODS and not method.startswith("other:"):
        raise InvalidInput(
            f"unknown verification method {method!r}; use one of "
            f"{', '.join(VERIFICATION_METHODS)} or other:DESCRIPTION"
        )


def _get(
    uow: AbstractUnitOfWork, tenant: str, request_id: str, *, lock: bool = False
) -> RequestRecord:
    record = uow.requests.get(tenant, request_id, lock=lock)
    if record is None:
        raise NotFound(
            f"no request {request_id} in this tenant", details={"request_id": request_id}
        )
    return record


# -- identity verification ----------------------------------------------------------------


def _code_hash(ctx: Context, record: RequestRecord, code: str) -> bytes:
    return ctx.crypto.index(record.tenant_id, "otp", f"{record.id}:{code}")


def _rate_key(ctx: Context, tenant: str, kind: str, value: str) -> bytes:
    return ctx.crypto.index(tenant, f"rate-{kind}", value)


def send_code(
    ctx: Context, who: Principal, request_id: str, *, client: str | None = None
) -> dict[str, Any]:
    """Email a 6-digit one-time code to the identity the request names (valid 10 minutes)."""
    who.require("requests.create")
    tenant = who.tenant_id
    now = ctx.clock()
    with ctx.uow() as uow:
        record = _get(uow, tenant, request_id, lock=True)
        if record.state not in ("received", "verifying"):
            raise Conflict(f"the request is {record.state}; no code is needed")
        if record.identity_kind != "email":
            raise InvalidInput(
                "one-time codes go by email; a request named by phone is verified by an "
                "operator (requests verify --method …)"
            )
        limits = [
            ("otp-identity", record.identity_digest, CODES_PER_IDENTITY_PER_HOUR, "this identity"),
        ]
        if client:
            limits.append(
                (
                    "otp-client",
                    _rate_key(ctx, tenant, "client", client),
                    CODES_PER_CLIENT_PER_HOUR,
                    "this client address",
                )
            )
        for kind, key, limit, what in limits:
            if uow.requests.count_rate(kind, key, now - HOUR) >= limit:
                raise Forbidden(
                    f"too many codes requested for {what}; try again within the hour",
                    details={"reason": "rate_limited"},
                )
        for kind, key, _limit, _what in limits:
            uow.requests.note_rate(kind, key, now)
        code = f"{secrets.randbelow(10**6):06d}"
        uow.requests.save_verification(
            Verification(
                record.id,
                _code_hash(ctx, record, code),
                now + CODE_MINUTES * 60 * 1_000_000,
                0,
                now,
            )
        )
        since = record.verifying_since or now
        record = _transition(
            uow,
            ctx,
            who,
            record,
            "verifying",
            "a one-time code was sent",
            now,
            verifying_since=since,
        )
        subject, body = _code_message(ctx, record, code)
        mail.queue(ctx, uow, tenant, "request.code", identity_of(ctx, record), subject, body, now)
        uow.commit()
    if ctx.mailer is not None:
        mail.deliver(ctx, ctx.mailer)
    return view(ctx, record)


def _code_message(ctx: Context, record: RequestRecord, code: str) -> tuple[str, str]:
    organization = getattr(getattr(ctx.declarations, "organization", None), "name", "Tutela")
    return mail_texts.code(record.language, record.type, code, str(organization), CODE_MINUTES)


def verify_code(ctx: Context, who: Principal, request_id: str, code: str) -> dict[str, Any]:
    """Check a one-time code in constant time; 5 wrong tries void the code."""
    who.require("requests.create")
    tenant = who.tenant_id
    now = ctx.clock()
    with ctx.uow() as uow:
        record = _get(uow, tenant, request_id, lock=True)
        if record.state != "verifying":
            raise Conflict(f"the request is {record.state}; there is no code to check")
        pending = uow.requests.verification(record.id)
        if pending is None:
            raise Conflict("no valid code is pending; ask for a new one")
        if now > pending.expires_at:
            uow.requests.drop_verification(record.id)
            uow.commit()
            raise InvalidInput("the code expired; ask for a new one", details={"reason": "expired"})
        given = "".join(ch for ch in code if ch.isdigit())
        if not hmac.compare_digest(_code_hash(ctx, record, given), pending.code_hash):
            attempts = pending.attempts + 1
            if attempts >= CODE_ATTEMPTS:
                uow.requests.drop_verification(record.id)
                message = "wrong code; that was the last try, ask for a new code"
            else:
                uow.requests.save_verification(replace(pending, attempts=attempts))
                message = f"wrong code; {CODE_ATTEMPTS - attempts} tries left"
            uow.audit.append(
                AuditEvent(
                    "request.code_failed",
                    who.actor,
                    tenant,
                    record.subject_id,
                    (),
                    {"request": record.id},
                ),
                now,
            )
            uow.commit()
            raise InvalidInput(message, details={"reason": "wrong_code"})
        uow.requests.drop_verification(record.id)
        record = _verified(uow, ctx, who, record, "email one-time code", now)
        uow.commit()
    return view(ctx, record)


def _verified(
    uow: AbstractUnitOfWork,
    ctx: Context,
    who: Principal,
    record: RequestRecord,
    method: str,
    now: int,
) -> RequestRecord:
    rule = _rule(ctx, record.jurisdiction)
    paused = 0
    if record.verifying_since is not None and rule.pause_for_verification:
        paused = max(0, (_day_of(now) - _day_of(record.verifying_since)).days)
    due = rules.due_date(rule, _day_of(record.received_at), paused, record.extended)
    return _transition(
        uow,
        ctx,
        who,
        record,
        "verified",
        f"identity verified ({method})",
        now,
        verified_at=now,
        verified_by=method,
        paused_days=paused,
        due_at=_end_of(due),
    )


def mark_verified(ctx: Context, who: Principal, request_id: str, method: str) -> dict[str, Any]:
    """An operator verified the subject by another documented method."""
    who.require("requests.manage")
    _check_method(method)
    now = ctx.clock()
    with ctx.uow() as uow:
        record = _get(uow, who.tenant_id, request_id, lock=True)
        uow.requests.drop_verification(record.id)
        record = _verified(uow, ctx, who, record, method, now)
        uow.commit()
    return view(ctx, record)


# -- decisions by the privacy officer -----------------------------------------------------


def reject(ctx: Context, who: Principal, request_id: str, reason: str) -> dict[str, Any]:
    who.require("requests.manage")
    if not reason.strip():
        raise InvalidInput("give the reason shown to the subject")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = _get(uow, who.tenant_id, request_id, lock=True)
        record = _transition(
            uow,
            ctx,
            who,
            record,
            "rejected",
            reason.strip()[:1000],
            now,
            rejection_reason=reason.strip()[:1000],
            checkpoint=_without_results(record.checkpoint),
        )
        _notify(
            ctx,
            uow,
            record,
            *mail_texts.rejected(record.language, record.type, reason.strip()),
            now,
        )
        uow.commit()
    return view(ctx, record)


def _without_results(checkpoint: str | None) -> str | None:
    """A closed request keeps no result an application endpoint posted (e.g. access rows)."""
    if not checkpoint:
        return checkpoint
    from tutela.services.hooks import stored_for_completion

    return json.dumps(stored_for_completion(json.loads(checkpoint)))


def cancel(ctx: Context, who: Principal, request_id: str) -> dict[str, Any]:
    who.require("requests.create")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = _get(uow, who.tenant_id, request_id, lock=True)
        record = _transition(uow, ctx, who, record, "cancelled", "cancelled by the subject", now)
        uow.commit()
    return view(ctx, record)


def extend(ctx: Context, who: Principal, request_id: str, reason: str) -> dict[str, Any]:
    """Extend the deadline where the law allows, telling the subject why."""
    who.require("requests.manage")
    if not reason.strip():
        raise InvalidInput("give the reason for the extension; the subject is told it")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = _get(uow, who.tenant_id, request_id, lock=True)
        if record.state not in rules.OPEN_STATES:
            raise Conflict(f"the request is {record.state}; it cannot be extended")
        rule = _rule(ctx, record.jurisdiction)
        rules.can_extend(rule, _day_of(record.received_at), _today(ctx), record.extended)
        due = rules.due_date(rule, _day_of(record.received_at), record.paused_days, True)
        record = replace(
            record,
            extended=True,
            extension_reason=reason.strip()[:1000],
            due_at=_end_of(due),
            updated_at=now,
        )
        uow.requests.save(record)
        uow.requests.add_event(
            record.tenant_id,
            record.id,
            now,
            record.state,
            record.state,
            who.actor,
            f"deadline extended to {due.isoformat()}: {reason.strip()}",
        )
        uow.audit.append(
            AuditEvent(
                "request.extended",
                who.actor,
                record.tenant_id,
                record.subject_id,
                (),
                {"request": record.id, "due": due.isoformat()},
            ),
            now,
        )
        message = mail_texts.extended(record.language, record.type, due, reason.strip())
        _notify(ctx, uow, record, *message, now)
        uow.commit()
    if ctx.mailer is not None:
        mail.deliver(ctx, ctx.mailer)
    return view(ctx, record)


def _notify(
    ctx: Context, uow: AbstractUnitOfWork, record: RequestRecord, subject: str, body: str, now: int
) -> None:
    if record.identity_kind == "email":
        mail.queue(
            ctx,
            uow,
            record.tenant_id,
            "request.update",
            identity_of(ctx, record),
            subject,
            body,
            now,
        )


# -- reading ------------------------------------------------------------------------------


def view(
    ctx: Context, record: RequestRecord, *, history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A request as its reader sees it: no identity value, deadlines and urgency."""
    rule = _rule(ctx, record.jurisdiction)
    received = _day_of(record.received_at)
    due = _day_of(record.due_at)
    data: dict[str, Any] = {
        "id": record.id,
        "tenant": record.tenant_id,
        "type": record.type,
        "state": record.state,
        "jurisdiction": record.jurisdiction,
        "language": record.language,
        "identity": record.identity_kind,
        "subject_id": record.subject_id,
        "received_at": iso(record.received_at),
        "due": due.isoformat(),
        "urgency": rules.urgency(received, due, _today(ctx))
        if record.state in rules.OPEN_STATES
        else None,
        "extended": record.extended,
        "extension_reason": record.extension_reason,
        "rejection_reason": record.rejection_reason,
        "verified_by": record.verified_by,
        "deadline_source": rule.source,
        "result": json.loads(record.result) if record.result else None,
    }
    acknowledge = rules.acknowledge_by(rule, received)
    if acknowledge is not None:
        data["acknowledge_by"] = acknowledge.isoformat()
    if record.state == "in_progress" and record.checkpoint:
        from tutela.services.hooks import waiting_view

        data.update(waiting_view(record))
    if history is not None:
        data["history"] = [{**h, "at": iso(h["at"])} for h in history]
    return data


def show(ctx: Context, who: Principal, request_id: str) -> dict[str, Any]:
    who.require("requests.create")
    with ctx.uow(read_only=True) as uow:
        record = _get(uow, who.tenant_id, request_id)
        history = uow.requests.events(record.id)
    return view(ctx, record, history=history)


def queue(
    ctx: Context, who: Principal, *, states: Sequence[str] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Requests, open ones first by due date: overdue and nearly due on top."""
    who.require("requests.manage")
    for state in states or ():
        if state not in rules.STATES:
            raise InvalidInput(f"unknown state {state!r}; use one of {', '.join(rules.STATES)}")
    with ctx.uow(read_only=True) as uow:
        records = uow.requests.queue(who.tenant_id, states, limit)
    return [view(ctx, r) for r in records]


def approve(ctx: Context, who: Principal, request_id: str) -> dict[str, Any]:
    """The privacy officer approves a verified request for execution (``run`` does it)."""
    who.require("requests.manage")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = _get(uow, who.tenant_id, request_id, lock=True)
        record = _transition(uow, ctx, who, record, "in_progress", "approved for execution", now)
        uow.commit()
    return view(ctx, record)


def download_link(ctx: Context, who: Principal, request_id: str) -> str:
    """The subject's signed download link of a completed access request (dpo)."""
    from tutela.services import packages

    package_id = package_of(ctx, who, request_id)
    with ctx.uow(read_only=True) as uow:
        record = _get(uow, who.tenant_id, request_id)
    expires = int(json.loads(record.result or "{}")["package"]["expires"])
    return packages.link(ctx, who.tenant_id, package_id, expires)


def package_of(ctx: Context, who: Principal, request_id: str) -> str:
    """The id of a completed access request's package."""
    who.require("requests.manage")
    with ctx.uow(read_only=True) as uow:
        record = _get(uow, who.tenant_id, request_id)
    result = json.loads(record.result or "{}")
    package = result.get("package", {})
    if record.state != "completed" or "package_id" not in package:
        raise NotFound(
            f"request {request_id} has no package (it is {record.state}; only completed "
            "access and portability requests have one)"
        )
    return str(package["package_id"])
