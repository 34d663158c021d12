"""The privacy center's use cases: what a signed-in data subject sees and does.

Every function takes the subject's session (``services/sessions.py``, realm ``privacy``)
and acts on that subject alone: reads are audited as the subject's own, changes go through
the vault, consent and request services, which write their audit entries in the same
transaction as the change. Requests made here are verified by the sign-in itself
(``account_login``); erasure and account closure wait a cooling-off period
(``TUTELA_ERASURE_COOLING_OFF_HOURS``) during which the subject can cancel them, then a job
carries them out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tutela.domain import requests as rules
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Conflict, InvalidInput, NotFound, TutelaError
from tutela.domain.identities import EMAIL_CATEGORY
from tutela.domain.subjects import ERASED, SubjectView
from tutela.services import consent, request_runner, sessions, vault
from tutela.services import requests as intake
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork, RequestRecord, WebSession

log = logging.getLogger("tutela.portal")

CENTER = "privacy-center"
COOLING_OFF_JOB = "request.cooling_off_ended"
#: requests that forget the subject wait the cooling-off period before they run
FORGETTING = ("erasure", "account_closure")
#: requests that run as soon as they are made (the sign-in verified the subject)
AT_ONCE = (
    "access",
    "portability",
    "restriction",
    "lift_restriction",
    "objection",
    "withdraw_consent",
)
HOUR = 3600 * 1_000_000


def subject(session: WebSession) -> Principal:
    """The signed-in subject, acting on their own data."""
    return Principal(session.tenant_id, frozenset({"app"}), f"subject:{session.account}")


def _center(tenant: str) -> Principal:
    """The privacy center itself: verifies by the sign-in and runs the subject's requests."""
    return Principal(tenant, frozenset({"dpo"}), CENTER)


def _sid(session: WebSession) -> str:
    if session.account is None:
        raise NotFound("this session belongs to nobody; sign in again")
    return session.account


def account_of(tenant: str) -> sessions.AccountOf:
    """How a sign-in finds the subject an address belongs to (erased subjects have none)."""

    def find(uow: AbstractUnitOfWork, digest: bytes) -> str | None:
        found = uow.subjects.find(tenant, "email", digest)
        if found is None:
            return None
        record = uow.subjects.get(tenant, found)
        return None if record is None or record.status == ERASED else found

    return find


def cooling_off_hours(ctx: Context) -> int:
    return int(ctx.extras.get("erasure_cooling_off_hours", 24))


# -- my data --------------------------------------------------------------------------------


def my_data(ctx: Context, session: WebSession) -> SubjectView:
    """The subject's own fields, decrypted for them; audited as their read."""
    return vault.read(ctx, subject(session), _sid(session), action="subject.read")


@dataclass(frozen=True, slots=True)
class Correction:
    applied: tuple[str, ...]  # categories corrected at once
    request: dict[str, Any] | None  # the rectification request queued for review


def correct(ctx: Context, session: WebSession, wanted: Mapping[str, str]) -> Correction:
    """Correct fields: at once where the category's ``correction`` is ``immediate``, else a
    rectification request for the privacy officer. Unchanged values are left alone."""
    declarations = ctx.declarations
    current = my_data(ctx, session).fields
    changed: dict[str, str] = {}
    problems: list[str] = []
    for key, raw in wanted.items():
        value = raw.strip()
        if value == current.get(key, "") or (not value and key not in current):
            continue
        category = getattr(declarations, "category", lambda _k: None)(key)
        if category is None or category.storage == "hash" or category.pseudonymous:
            problems.append(f"{key}: not a field you can correct here")
            continue
        if not value:
            problems.append(f"{key}: empty; write the correct value")
            continue
        changed[key] = value
    if problems:
        raise InvalidInput("; ".join(problems), details={"problems": problems})
    if not changed:
        return Correction((), None)
    from tutela.domain.subjects import check_changes

    check_changes(declarations, changed, today=_today(ctx), creating=False)  # all or nothing
    at_once = {
        k: v
        for k, v in changed.items()
        if getattr(declarations.category(k), "correction", "review") == "immediate"
    }
    review = {k: v for k, v in changed.items() if k not in at_once}
    queued = submit(ctx, session, "rectification", details={"fields": review}) if review else None
    if at_once:
        vault.update(ctx, subject(session), _sid(session), dict(at_once))
    return Correction(tuple(sorted(at_once)), queued)


def _today(ctx: Context) -> Any:
    import datetime as dt

    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC).date()


# -- requests -------------------------------------------------------------------------------


def _email(ctx: Context, session: WebSession) -> str:
    email = my_data(ctx, session).fields.get(EMAIL_CATEGORY)
    if not email:
        raise Conflict(
            "your account has no email address, so a request cannot name you; write to the "
            "privacy contact instead"
        )
    return email


def submit(
    ctx: Context,
    session: WebSession,
    kind: str,
    *,
    details: Mapping[str, Any] | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """Make a request, verified by the sign-in. An open request of the same type is not made
    twice: :class:`Conflict` names it (``details.request_id``)."""
    rules.check_type(kind)
    tenant = session.tenant_id
    created = intake.create(
        ctx,
        subject(session),
        kind,
        email=_email(ctx, session),
        language=language,
        details=details,
    )
    view = intake.mark_verified(ctx, _center(tenant), created["id"], "account_login")
    if kind in FORGETTING:
        hours = cooling_off_hours(ctx)
        now = ctx.clock()
        until = now + hours * HOUR
        with ctx.uow() as uow:
            uow.consent.enqueue(
                COOLING_OFF_JOB,
                tenant,
                _sid(session),
                json.dumps({"request": created["id"]}),
                now,
                run_after=until,
            )
            uow.requests.add_event(
                tenant,
                created["id"],
                now,
                "verified",
                "verified",
                CENTER,
                f"cooling-off period of {hours} hours: carried out after it unless cancelled",
            )
            uow.audit.append(
                AuditEvent(
                    "request.cooling_off",
                    CENTER,
                    tenant,
                    _sid(session),
                    (),
                    {"request": created["id"], "hours": hours},
                ),
                now,
            )
            uow.commit()
        view["cooling_off_until"] = until
    return view


def run(ctx: Context, tenant: str, request_id: str) -> dict[str, Any] | None:
    """Carry out a verified request now (after its cooling-off period, if any)."""
    try:
        done = request_runner.run(ctx, _center(tenant), request_id)
    except TutelaError as exc:  # e.g. cancelled meanwhile; the request says why
        log.info("request %s not run: %s", request_id, exc.code)
        return None
    _forgotten(ctx, tenant, done)
    return done


def _forgotten(ctx: Context, tenant: str, done: dict[str, Any]) -> None:
    """A completed erasure or closure ends the subject's sessions in the privacy center."""
    if (
        done.get("type") in FORGETTING
        and done.get("state") == "completed"
        and done.get("subject_id")
    ):
        with ctx.uow() as uow:
            sessions.end_all(ctx, uow, sessions.PRIVACY, tenant, str(done["subject_id"]))
            uow.commit()


def cooling_off_ended(ctx: Context, job: dict[str, Any]) -> None:
    """The worker's job: carry out an erasure whose cooling-off period ended, unless the
    subject cancelled it meanwhile."""
    request_id = json.loads(job["payload"])["request"]
    with ctx.uow(read_only=True) as uow:
        record = uow.requests.get(job["tenant_id"], request_id)
    if record is None or record.state != "verified":
        return
    done = request_runner.run(ctx, _center(job["tenant_id"]), request_id)
    _forgotten(ctx, job["tenant_id"], done)


def _mine(ctx: Context, session: WebSession) -> list[RequestRecord]:
    if session.identity_digest is None:
        return []
    with ctx.uow(read_only=True) as uow:
        found = uow.requests.by_identity(session.tenant_id, "email", session.identity_digest)
    return sorted(found, key=lambda r: r.received_at, reverse=True)


def my_requests(ctx: Context, session: WebSession) -> list[dict[str, Any]]:
    """The subject's requests, newest first, each with its history."""
    records = _mine(ctx, session)
    with ctx.uow(read_only=True) as uow:
        histories = {r.id: uow.requests.events(r.id) for r in records}
    hours = cooling_off_hours(ctx)
    views = []
    for record in records:
        view = intake.view(ctx, record, history=histories[record.id])
        view["received_micros"] = record.received_at
        view["cancellable"] = record.state in ("received", "verifying", "verified")
        if record.type in FORGETTING and record.state == "verified" and record.verified_at:
            view["cooling_off_until"] = record.verified_at + hours * HOUR
        views.append(view)
    return views


def open_request(ctx: Context, session: WebSession, kind: str) -> dict[str, Any] | None:
    """The subject's open request of this type, if there is one."""
    return next(
        (
            r
            for r in my_requests(ctx, session)
            if r["type"] == kind and r["state"] in rules.OPEN_STATES
        ),
        None,
    )


def cancel(ctx: Context, session: WebSession, request_id: str) -> dict[str, Any]:
    """Cancel one of the subject's own requests that has not started."""
    if request_id not in {r.id for r in _mine(ctx, session)}:
        raise NotFound("you have no request with this number", details={"request_id": request_id})
    return intake.cancel(ctx, subject(session), request_id)


# -- packages -------------------------------------------------------------------------------


def my_packages(ctx: Context, session: WebSession) -> list[dict[str, Any]]:
    """The subject's access packages, newest first (expired ones too, marked so)."""
    now = ctx.clock()
    found = []
    for record in _mine(ctx, session):
        if record.type not in ("access", "portability"):
            continue
        entry: dict[str, Any] = {
            "request": record.id,
            "type": record.type,
            "state": record.state,
            "received": record.received_at,
            "due": intake.view(ctx, record)["due"],
        }
        package = json.loads(record.result or "{}").get("package", {})
        if "package_id" in package:
            entry.update(
                package_id=package["package_id"],
                expires=int(package["expires"]),
                size=int(package.get("size", 0)),
                expired=now > int(package["expires"]),
            )
        found.append(entry)
    return found


def package(ctx: Context, session: WebSession, request_id: str) -> bytes:
    """The ZIP of one of the subject's packages (NotFound, readable, once it expired)."""
    from tutela.services import packages

    entry = next((p for p in my_packages(ctx, session) if p["request"] == request_id), None)
    if entry is None or "package_id" not in entry:
        raise NotFound(
            "there is no package for this request (yet)", details={"request_id": request_id}
        )
    content = packages.fetch(ctx, session.tenant_id, entry["package_id"])
    with ctx.uow() as uow:
        uow.audit.append(
            AuditEvent(
                "package.download",
                subject(session).actor,
                session.tenant_id,
                _sid(session),
                (),
                {"request": request_id},
            ),
            ctx.clock(),
        )
        uow.commit()
    return content


# -- consent --------------------------------------------------------------------------------


def consent_state(ctx: Context, session: WebSession) -> dict[str, Any]:
    """Every declared purpose with its consent state and decision (audited read)."""
    return consent.show(ctx, subject(session), _sid(session))


def save_consent(
    ctx: Context,
    session: WebSession,
    granted: Sequence[str],
    *,
    bundled: bool,
    language: str,
    evidence: consent.Evidence,
    gpc: bool,
) -> dict[str, list[str]]:
    """Make the consents what the subject chose: grant the ticked purposes, withdraw the
    unticked ones that were granted, record a refusal for the unticked ones never answered.
    A Global Privacy Control signal wins over a grant in the same choice."""
    who, sid = subject(session), _sid(session)
    shown = consent.show(ctx, who, sid)
    states = {p["purpose"]: p["state"] for p in shown["purposes"] if p["legal_basis"] == "consent"}
    unknown = sorted(set(granted) - set(states))
    if unknown:
        raise InvalidInput(
            f"not a purpose you can consent to: {', '.join(unknown)}",
            details={"purposes": unknown},
        )
    grant = [p for p in states if p in granted and states[p] != "granted"]
    withdraw = [p for p in states if p not in granted and states[p] == "granted"]
    refuse = [p for p in states if p not in granted and states[p] in ("none", None)]
    options: dict[str, Any] = {"method": "web_form", "language": language, "evidence": evidence}
    done: dict[str, list[str]] = {"grant": [], "withdraw": [], "refuse": [], "gpc": []}
    if grant:
        consent.record(ctx, who, sid, grant, "grant", bundled=bundled, **options)
        done["grant"] = grant
    if withdraw:
        consent.record(ctx, who, sid, withdraw, "withdraw", **options)
        done["withdraw"] = withdraw
    if refuse:
        consent.record(ctx, who, sid, refuse, "refuse", **options)
        done["refuse"] = refuse
    if gpc:
        done["gpc"] = [e["purpose"] for e in consent.apply_gpc(ctx, who, sid, evidence)]
    return done


def ask_guardian(
    ctx: Context,
    session: WebSession,
    guardian_email: str,
    purposes: Sequence[str],
    *,
    language: str,
    compose: Any,
) -> None:
    """Send a minor's guardian a one-time link to consent to these purposes."""
    from tutela.domain.identities import normalize_email
    from tutela.services import mail

    sid = _sid(session)
    shown = consent_state(ctx, session)
    allowed = {p["purpose"] for p in shown["purposes"] if p["legal_basis"] == "consent"}
    chosen = [p for p in purposes if p in allowed]
    if not chosen:
        raise InvalidInput(
            "choose at least one purpose to ask your parent or guardian about",
            details={"field": "purposes"},
        )
    try:
        address = normalize_email(guardian_email)
    except InvalidInput:
        raise InvalidInput(
            "this is not an email address; write it as name@example.com",
            details={"reason": "bad_email", "field": "guardian_email"},
        ) from None
    now = ctx.clock()
    with ctx.uow() as uow:
        token = sessions.issue_link(
            uow,
            ctx,
            sessions.GUARDIAN,
            session.tenant_id,
            sid,
            data=json.dumps({"purposes": chosen, "language": language}),
            secret=address,
            now=now,
        )
        subject_line, body = compose(token)
        mail.queue(
            ctx, uow, session.tenant_id, "guardian.request", address, subject_line, body, now
        )
        uow.audit.append(
            AuditEvent(
                "consent.guardian_asked",
                subject(session).actor,
                session.tenant_id,
                sid,
                (),
                {"purposes": chosen},
            ),
            now,
        )
        uow.commit()


def guardian_request(ctx: Context, tenant: str, token: str) -> dict[str, Any]:
    """What a guardian's link asks for (NotFound once used or expired)."""
    found, _address = sessions.open_link(ctx, sessions.GUARDIAN, tenant, token)
    data: dict[str, Any] = json.loads(found.data or "{}")
    return {"purposes": list(data.get("purposes", [])), "language": data.get("language")}


def guardian_answer(
    ctx: Context, tenant: str, token: str, granted: Sequence[str], evidence: consent.Evidence
) -> list[str]:
    """The guardian's answer: grant the ticked purposes (verified by the emailed link);
    the link is spent either way."""
    found, address = sessions.open_link(ctx, sessions.GUARDIAN, tenant, token)
    data: dict[str, Any] = json.loads(found.data or "{}")
    asked = list(data.get("purposes", []))
    chosen = [p for p in asked if p in granted]
    if chosen and found.account is not None and address is not None:
        consent.record(
            ctx,
            Principal(tenant, frozenset({"app"}), "guardian"),
            found.account,
            chosen,
            "grant",
            method="guardian",
            guardian=consent.Guardian(address, "email_link"),
            language=data.get("language"),
            evidence=evidence,
        )
    with ctx.uow() as uow:
        sessions.use_link(uow, token)
        uow.commit()
    return chosen
