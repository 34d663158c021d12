"""Use cases of the consent ledger: record, withdraw, show, check, receipts.

Recording validates everything first (purposes declared and consent-based, subject present,
guardian rules), signs one receipt per purpose outside the transaction, then writes events,
folded states, the change feed and audit entries in one transaction. Nothing is recorded
when any part is wrong.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tutela.domain.access import Principal
from tutela.domain.audit import SYSTEM_CHAIN, AuditEvent
from tutela.domain.consent import (
    ACTIONS,
    METHODS,
    NO_CONSENT,
    Decision,
    PurposeRule,
    SubjectStanding,
    apply,
    decide,
    gpc_purposes,
    minor_until,
)
from tutela.domain.consent import ConsentEvent as FoldEvent
from tutela.domain.errors import ConfigurationError, InvalidInput, NotFound, SubjectErased
from tutela.domain.identities import normalize_email
from tutela.domain.subjects import ERASED, iso
from tutela.services import stopped
from tutela.services.context import Context
from tutela.services.decisions import ALL, DecisionCache, SubjectDecisions, purpose_rules
from tutela.services.ports import AbstractUnitOfWork, ConsentRecord, Standing

FOLLOW_UP_KIND = "consent.withdrawn"


@dataclass(frozen=True, slots=True)
class Guardian:
    email: str
    verified_by: str


@dataclass(frozen=True, slots=True)
class Evidence:
    user_agent: str | None = None
    ip: str | None = None


def _declarations(ctx: Context) -> Any:
    declarations = ctx.declarations
    if not hasattr(declarations, "purposes"):
        raise ConfigurationError(
            "no declarations are loaded; run `tutela init --declarations FILE` first"
        )
    return declarations


def _check_purposes(ctx: Context, purposes: Sequence[str]) -> list[str]:
    declarations = _declarations(ctx)
    if not purposes:
        raise InvalidInput("name at least one purpose")
    known = {p.key: p for p in declarations.purposes}
    problems: list[str] = []
    for key in purposes:
        purpose = known.get(key)
        if purpose is None:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]}?" if close else f"declared: {', '.join(sorted(known))}"
            problems.append(f"{key}: not a declared purpose; {hint}")
        elif purpose.legal_basis != "consent":
            problems.append(
                f"{key}: based on {purpose.legal_basis}, not consent; there is no consent "
                "to record for it"
            )
    if problems:
        raise InvalidInput("; ".join(problems), details={"problems": problems})
    return list(dict.fromkeys(purposes))


def _today(ctx: Context) -> dt.date:
    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC).date()


def _keyed_hash(ctx: Context, tenant_id: str, kind: str, value: str) -> bytes:
    return ctx.crypto.index(tenant_id, kind, value)


def _policy_label(ctx: Context) -> str | None:
    declarations = _declarations(ctx)
    if declarations.policy is not None:
        return str(declarations.policy.version)
    return None if ctx.declarations_version is None else f"declarations-{ctx.declarations_version}"


def record(
    ctx: Context,
    who: Principal,
    subject_id: str,
    purposes: Sequence[str],
    action: str,
    *,
    method: str = "api",
    guardian: Guardian | None = None,
    bundled: bool = False,
    jurisdiction: str | None = None,
    language: str | None = None,
    evidence: Evidence | None = None,
) -> list[dict[str, Any]]:
    """Append grant/refuse/withdraw events; returns one signed receipt per purpose."""
    who.require("subjects.write")
    declarations = _declarations(ctx)
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if guardian is not None:
        method = "guardian"
        if not guardian.verified_by.strip():
            raise InvalidInput(
                "say how the guardian was verified (--verified-by, e.g. id_document)"
            )
        guardian_email = normalize_email(guardian.email)
    elif method == "guardian":
        raise InvalidInput(
            "guardian consent needs the guardian's email and how they were verified "
            "(--guardian-email ADDR --verified-by METHOD)"
        )
    keys = _check_purposes(ctx, purposes)
    jurisdiction = jurisdiction or declarations.jurisdictions[0]
    if jurisdiction not in declarations.jurisdictions:
        raise InvalidInput(
            f"jurisdiction {jurisdiction!r} is not declared; use one of "
            f"{', '.join(declarations.jurisdictions)}"
        )
    language = language or declarations.default_language
    if language not in declarations.languages:
        raise InvalidInput(
            f"language {language!r} is not declared; use one of {', '.join(declarations.languages)}"
        )
    evidence = evidence or Evidence()
    tenant = who.tenant_id
    by = "guardian" if guardian is not None else "subject"
    now = ctx.clock()

    records: list[ConsentRecord] = []
    for key in keys:
        record_id = ctx.new_id()
        receipt = _sign_receipt(
            ctx,
            record_id,
            tenant,
            subject_id,
            key,
            action,
            now,
            language,
            method,
            jurisdiction,
            by,
            guardian,
            bundled,
        )
        records.append(
            ConsentRecord(
                record_id,
                tenant,
                subject_id,
                key,
                action,
                now,
                by,
                bundled,
                method,
                jurisdiction,
                language,
                ctx.declarations_version,
                _keyed_hash(ctx, tenant, "guardian", guardian_email) if guardian else None,
                guardian.verified_by.strip()[:100] if guardian else None,
                (evidence.user_agent or "")[:500] or None,
                _keyed_hash(ctx, tenant, "ip", evidence.ip) if evidence.ip else None,
                receipt,
            )
        )
    with ctx.uow() as uow:  # receipts are signed already: the write lock is held briefly
        if action == "grant":  # withdrawing and refusing stay possible after a sunset
            stopped.refuse_new_data(uow, tenant)
        _check_guardian_rules(ctx, _standing_in(uow, tenant, subject_id), action, by)
        states = uow.consent.states(tenant, subject_id)
        for item in records:
            seq = uow.consent.append(item)
            event = FoldEvent(seq, item.purpose, action, now, by, bundled, item.policy_version)  # type: ignore[arg-type]
            state = apply(states.get(item.purpose, NO_CONSENT), event)
            uow.consent.save_state(tenant, subject_id, item.purpose, state)
            uow.audit.append(
                AuditEvent(
                    f"consent.{action}",
                    who.actor,
                    tenant,
                    subject_id,
                    (),
                    {"purpose": item.purpose, "record": item.id, "method": method, "by": by},
                ),
                now,
            )
            if action == "withdraw" and ctx.withdrawal_follow_up != "none":
                uow.consent.enqueue(
                    FOLLOW_UP_KIND,
                    tenant,
                    subject_id,
                    json.dumps({"purpose": item.purpose, "then": ctx.withdrawal_follow_up}),
                    now,
                )
        uow.consent.note_change(tenant, subject_id, now)
        uow.commit()
    _invalidate(ctx, tenant, subject_id)
    return [_event_dict(item) for item in records]


def _check_guardian_rules(ctx: Context, standing: SubjectStanding, action: str, by: str) -> None:
    minor = standing.minor_until is not None and _today(ctx) < standing.minor_until
    if action == "grant" and by == "guardian" and not minor:
        raise InvalidInput(
            "the subject is not a minor; record their own consent (a guardian consents only "
            "for a minor)",
            details={"reason": "not_a_minor"},
        )
    if action == "grant" and by == "subject" and standing.minor_until is not None and minor:
        raise InvalidInput(
            f"the subject is a minor until {standing.minor_until.isoformat()}; a guardian "
            "must consent first (--guardian-email ADDR --verified-by METHOD)",
            details={"reason": "guardian_consent_required"},
        )


def _sign_receipt(
    ctx: Context,
    record_id: str,
    tenant: str,
    subject_id: str,
    purpose: str,
    action: str,
    now: int,
    language: str,
    method: str,
    jurisdiction: str,
    by: str,
    guardian: Guardian | None,
    bundled: bool,
) -> str | None:
    if ctx.signer is None:
        return None
    from tutela.domain.receipts import ReceiptEvent, build_receipt

    fields: dict[str, Any] = {
        "record_id": record_id,
        "subject_id": subject_id,
        "tenant_id": tenant,
        "action": action,
        "at": now,
        "policy_version": _policy_label(ctx),
        "notice_language": language,
        "method": method,
        "jurisdiction": jurisdiction,
        "by": by,
        "guardian_verified_by": guardian.verified_by.strip() if guardian else None,
        "bundled": bundled,
    }
    event = ReceiptEvent(**fields)
    declarations = _declarations(ctx)
    periods = _tenant_periods(ctx, declarations, tenant, purpose)
    return ctx.signer.sign(
        build_receipt(event, declarations, purposes=[purpose], tenant_periods=periods)
    )


def _tenant_periods(ctx: Context, declarations: Any, tenant: str, purpose: str) -> dict[str, str]:
    """The tenant's run-time retention period for this purpose, if it may set one (the
    database is read only for tenant-configurable purposes)."""
    declared = next((p for p in declarations.purposes if p.key == purpose), None)
    if declared is None or declared.retention is None or not declared.retention.tenant_configurable:
        return {}
    from tutela.services.tenant_retention import periods

    period = periods(ctx, tenant).get(purpose)
    return {purpose: period.keep} if period is not None and period.setting else {}


def withdraw_all(
    ctx: Context, who: Principal, subject_id: str, **options: Any
) -> list[dict[str, Any]]:
    """Withdraw every consent the subject has given, in one call."""
    with ctx.uow(read_only=True) as uow:
        if uow.subjects.get(who.tenant_id, subject_id) is None:
            raise _not_found(subject_id)
        states = uow.consent.states(who.tenant_id, subject_id)
    granted = sorted(k for k, s in states.items() if s.status == "granted")
    if not granted:
        return []
    return record(ctx, who, subject_id, granted, "withdraw", **options)


def apply_gpc(
    ctx: Context, who: Principal, subject_id: str, evidence: Evidence | None = None
) -> list[dict[str, Any]]:
    """A Global Privacy Control signal: opt out of sale/sharing and marketing purposes.

    Records a refusal (method ``browser_signal``) for every such consent-based purpose not
    already refused or withdrawn; asks nothing more. Returns the events recorded.
    """
    targets = gpc_purposes(purpose_rules(ctx.declarations))
    if not targets:
        return []
    with ctx.uow(read_only=True) as uow:
        if uow.subjects.get(who.tenant_id, subject_id) is None:
            raise _not_found(subject_id)
        states = uow.consent.states(who.tenant_id, subject_id)
    done = ("refused", "withdrawn")
    pending = [p for p in targets if states.get(p, NO_CONSENT).status not in done]
    if not pending:
        return []
    return record(
        ctx, who, subject_id, pending, "refuse", method="browser_signal", evidence=evidence
    )


def _not_found(subject_id: str) -> NotFound:
    return NotFound(f"no subject {subject_id} in this tenant", details={"subject_id": subject_id})


def _standing_in(uow: AbstractUnitOfWork, tenant: str, subject_id: str) -> SubjectStanding:
    subject = uow.subjects.get(tenant, subject_id)
    if subject is None:
        raise _not_found(subject_id)
    if subject.status == ERASED:
        raise SubjectErased(f"subject {subject_id} was erased; no consent can be recorded")
    stored = uow.consent.standing(tenant, subject_id) or Standing()
    return SubjectStanding(subject.status, stored.minor_until, stored.restricted, stored.objections)


def _event_dict(item: ConsentRecord) -> dict[str, Any]:
    return {
        "id": item.id,
        "subject_id": item.subject_id,
        "purpose": item.purpose,
        "action": item.action,
        "at": iso(item.at),
        "by": item.by,
        "method": item.method,
        "bundled": item.bundled,
        "jurisdiction": item.jurisdiction,
        "language": item.language,
        "policy_version": item.policy_version,
        "guardian_verified_by": item.guardian_verified_by,
        "receipt": item.receipt,
    }


# -- reading and checking -----------------------------------------------------------------


def load_subject(ctx: Context, tenant_id: str, subject_id: str) -> SubjectDecisions | None:
    """What the decision cache needs about one subject (None if there is no such subject)."""
    with ctx.uow(read_only=True) as uow:
        subject = uow.subjects.get(tenant_id, subject_id)
        if subject is None:
            return None
        stored = uow.consent.standing(tenant_id, subject_id) or Standing()
        states = uow.consent.states(tenant_id, subject_id)
    standing = SubjectStanding(
        subject.status, stored.minor_until, stored.restricted, stored.objections
    )
    return SubjectDecisions(standing, states)


def current_rules(ctx: Context) -> dict[str, PurposeRule]:
    """Purpose rules of the declarations in force, with the renewals required so far."""
    if ctx.reload_declarations is not None:
        ctx.reload_declarations()
    with ctx.uow(read_only=True) as uow:
        renewals = uow.consent.renewals()
    return purpose_rules(ctx.declarations, renewals)


def require_renewal(ctx: Context, who: Principal, purposes: Sequence[str]) -> dict[str, Any]:
    """Consents to these purposes given under older declarations stop counting: each subject
    must consent again (checks answer ``consent_stale`` until then)."""
    who.require("tenants.manage")
    keys = _check_purposes(ctx, purposes)
    version = ctx.declarations_version
    if version is None:
        raise ConfigurationError("no declarations are loaded; nothing to renew against")
    now = ctx.clock()
    with ctx.uow() as uow:
        for key in keys:
            uow.consent.require_renewal(key, version, who.actor, now)
            uow.audit.append(
                AuditEvent(
                    "consent.renewal_required",
                    who.actor,
                    SYSTEM_CHAIN,
                    None,
                    (),
                    {"purpose": key, "since_version": version},
                ),
                now,
            )
        uow.consent.note_change(ALL, ALL, now)
        uow.commit()
    if ctx.decisions is not None:
        ctx.decisions.rules = current_rules(ctx)
        ctx.decisions.clear()
    return {"purposes": keys, "since_version": version}


def decision_cache(ctx: Context) -> DecisionCache:
    cache = ctx.decisions
    if cache is None:
        with ctx.uow(read_only=True) as uow:
            start = uow.consent.last_change()

        def feed(seq: int, gaps: list[int]) -> list[tuple[int, str, str]]:
            with ctx.uow(read_only=True) as uow:
                return uow.consent.changes_since(seq, gaps)

        cache = DecisionCache(
            current_rules(ctx),
            lambda t, s: load_subject(ctx, t, s),
            feed,
            start_seq=start,
            reload_rules=lambda: current_rules(ctx),
        )
        ctx.decisions = cache
    return cache


def _invalidate(ctx: Context, tenant_id: str, subject_id: str) -> None:
    if ctx.decisions is not None:
        ctx.decisions.invalidate(tenant_id, subject_id)


def check(ctx: Context, who: Principal, subject_id: str, purpose: str) -> Decision:
    """May ``purpose`` process this subject's data now? Never raises for unknown ids."""
    who.require("subjects.read")
    return decision_cache(ctx).check(who.tenant_id, subject_id, purpose)


def check_many(ctx: Context, who: Principal, pairs: Iterable[tuple[str, str]]) -> list[Decision]:
    who.require("subjects.read")
    return decision_cache(ctx).check_many(who.tenant_id, pairs)


def show(ctx: Context, who: Principal, subject_id: str) -> dict[str, Any]:
    """Every declared purpose with its consent state and the current decision."""
    who.require("subjects.read")
    tenant = who.tenant_id
    with ctx.uow() as uow:
        subject = uow.subjects.get(tenant, subject_id)
        if subject is None:
            raise _not_found(subject_id)
        stored = uow.consent.standing(tenant, subject_id) or Standing()
        states = uow.consent.states(tenant, subject_id)
        events = uow.consent.events(tenant, subject_id)
        uow.audit.append(
            AuditEvent("consent.read", who.actor, tenant, subject_id, (), {}), ctx.clock()
        )
        uow.commit()
    standing = SubjectStanding(
        subject.status, stored.minor_until, stored.restricted, stored.objections
    )
    today = _today(ctx)
    rules = current_rules(ctx)
    purposes = []
    for key, rule in rules.items():
        state = states.get(key, NO_CONSENT)
        decision = decide(rule, standing, state, today)
        purposes.append(
            {
                "purpose": key,
                "legal_basis": rule.legal_basis,
                "separate_consent": rule.needs_separate,
                "state": state.status if rule.legal_basis == "consent" else None,
                "since": iso(state.at) if state.at else None,
                **decision.as_dict(),
            }
        )
    return {
        "subject_id": subject_id,
        "status": subject.status,
        "minor_until": standing.minor_until.isoformat() if standing.minor_until else None,
        "restricted": standing.restricted,
        "purposes": purposes,
        "events": [_event_dict(e) | {"receipt": None} for e in events],
    }


def receipt(ctx: Context, who: Principal, record_id: str) -> str:
    """The signed receipt (compact JWS) of one consent event."""
    who.require("subjects.read")
    with ctx.uow(read_only=True) as uow:
        found = uow.consent.event(who.tenant_id, record_id)
    if found is None or found.receipt is None:
        raise NotFound(f"no consent receipt {record_id} in this tenant", details={"id": record_id})
    return found.receipt


# -- registration hooks -------------------------------------------------------------------


def standing_at_registration(
    ctx: Context, birth_date: str | None, age_claim: int | None
) -> Standing | None:
    """A subject registered as a minor: the day they reach the minimum age."""
    today = _today(ctx)
    limit = ctx.minimum_age
    if birth_date:
        until = minor_until(dt.date.fromisoformat(birth_date), limit)
    elif age_claim is not None:
        if not 0 <= age_claim <= 130:
            raise InvalidInput("age must be between 0 and 130 years")
        # conservative: the claimed age was reached today at the latest
        until = minor_until(
            today.replace(year=today.year - age_claim)
            if not (today.month == 2 and today.day == 29)
            else dt.date(today.year - age_claim, 2, 28),
            limit,
        )
    else:
        return None
    return Standing(minor_until=until) if until > today else None


def ip_hash_matches(ctx: Context, tenant_id: str, ip: str, stored: bytes) -> bool:
    """Evidence check: does a stored keyed IP hash belong to this address?"""
    return hmac.compare_digest(_keyed_hash(ctx, tenant_id, "ip", ip), stored)


__all__ = [
    "Evidence",
    "Guardian",
    "apply_gpc",
    "check",
    "check_many",
    "decision_cache",
    "hashlib",
    "ip_hash_matches",
    "receipt",
    "record",
    "require_renewal",
    "show",
    "standing_at_registration",
    "withdraw_all",
]
