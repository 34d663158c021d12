"""Executing a verified request to the end: what each request type does to the data.

A run is resumable: the request is ``in_progress`` from its first step, each finished step
is written to its checkpoint, and a run started again (after a crash or ``kill -9``) skips
the steps already done. Steps are idempotent (erasing what is already erased changes
nothing). A request is marked completed only after every step has finished.

A dataset step that needs the result of an application endpoint (``services/hooks.py``)
stops the run while that result has not come back: the request stays ``in_progress``, its
view says what it waits for, and a later run carries on from that step.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tutela.datasets.ports import AbstractConnector
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.subjects import CLOSED, ERASED
from tutela.services import consent, holds, hooks, mail, mail_texts, packages, vault
from tutela.services import requests as intake
from tutela.services.context import Context
from tutela.services.ports import RequestRecord, Standing

Step = Callable[[Context, Principal, RequestRecord], dict[str, Any]]
VAULT = "vault"
FORGETTING = frozenset({"erasure", "account_closure"})


def run(ctx: Context, who: Principal, request_id: str) -> dict[str, Any]:
    """Run a verified (or resume an interrupted) request.

    Returns the completed request, or the request still ``in_progress`` with
    ``waiting_for`` when an application endpoint has not posted its result yet: a later run
    (after the callback) completes it.
    """
    who.require("requests.manage")
    now = ctx.clock()
    with ctx.uow() as uow:
        record = intake._get(uow, who.tenant_id, request_id, lock=True)
        if record.state == "verified":
            record = intake._transition(
                uow, ctx, who, record, "in_progress", "execution started", now, attempts=1
            )
        elif record.state == "in_progress":
            record = replace(record, attempts=record.attempts + 1, updated_at=now)
            uow.requests.save(record)
        else:
            from tutela.domain.errors import Conflict

            hint = " verify the subject first" if record.state in ("received", "verifying") else ""
            raise Conflict(f"the request is {record.state}; only verified requests run.{hint}")
        uow.commit()
    checkpoint: dict[str, Any] = json.loads(record.checkpoint or "{}")
    for name, step in STEPS[record.type]:
        if name in checkpoint:
            continue
        try:
            result = step(ctx, who, record)
        except hooks.Waiting:
            with ctx.uow(read_only=True) as uow:
                return intake.view(ctx, intake._get(uow, who.tenant_id, request_id))
        checkpoint = _save_step(ctx, who, request_id, name, result)
    steps = {name: checkpoint[name] for name, _ in STEPS[record.type]}
    now = ctx.clock()
    with ctx.uow() as uow:
        current = intake._get(uow, who.tenant_id, request_id, lock=True)
        done = intake._transition(
            uow,
            ctx,
            who,
            current,
            "completed",
            f"{record.type} completed",
            now,
            result=json.dumps(steps),
            checkpoint=json.dumps(hooks.stored_for_completion(_checkpoint(current))),
        )
        _tell_subject(ctx, uow, done, steps, now)
        if done.type in FORGETTING:
            # the subject asked to be forgotten: the request keeps its blind index (to
            # prove it was answered) but no longer the identity or the details it named
            done = replace(done, identity_enc=b"", details_enc=None)
            uow.requests.save(done)
        uow.commit()
    if ctx.mailer is not None:
        mail.deliver(ctx, ctx.mailer)
    return intake.view(ctx, done)


def _checkpoint(record: RequestRecord) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(record.checkpoint or "{}")
    return loaded


def _save_step(
    ctx: Context, who: Principal, request_id: str, name: str, result: dict[str, Any]
) -> dict[str, Any]:
    """Add a finished step to the stored checkpoint (keeping what callbacks wrote meanwhile)."""
    with ctx.uow() as uow:
        current = intake._get(uow, who.tenant_id, request_id, lock=True)
        checkpoint = {**_checkpoint(current), name: result}
        uow.requests.save(
            replace(current, checkpoint=json.dumps(checkpoint), updated_at=ctx.clock())
        )
        uow.commit()
    return checkpoint


def _tell_subject(
    ctx: Context, uow: Any, record: RequestRecord, result: dict[str, Any], now: int
) -> None:
    package = result.get("package", {})
    link = (
        packages.link(ctx, record.tenant_id, package["package_id"], package["expires"])
        if "package_id" in package
        else None
    )
    subject, body = mail_texts.completed(record.language, record.type, link)
    intake._notify(ctx, uow, record, subject, body, now)


# -- steps --------------------------------------------------------------------------------


def _subject(record: RequestRecord) -> str | None:
    return record.subject_id


def vault_access(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    sid = _subject(record)
    if sid is None:
        return {"found": 0}
    view = vault.read(ctx, who, sid, action="request.access")
    categories = {c: [c] for c in view.fields}
    return {
        "found": len(view.fields),
        "rows": [
            {
                name: {"value": value, "categories": categories[name]}
                for name, value in sorted(view.fields.items())
            }
        ]
        if view.fields
        else [],
        "hashed": list(view.hashed),
    }


def consent_access(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    sid = _subject(record)
    if sid is None:
        return {"found": 0}
    shown = consent.show(ctx, who, sid)
    rows = [
        {
            k: {"value": e[k], "categories": ["user.privacy_preferences"]}
            for k in ("purpose", "action", "at", "method", "by")
        }
        for e in shown["events"]
    ]
    return {"found": len(rows), "rows": rows}


def access_package(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    """Gather everything in memory and store it only as the encrypted package: no personal
    value is ever written to the request's checkpoint or result."""
    stores = dataset_access(ctx, who, record)  # first: it may have to wait for endpoints
    found: dict[str, dict[str, list[dict[str, Any]]]] = {
        "tutela": {
            "subject": vault_access(ctx, who, record).get("rows", []),
            "consent": consent_access(ctx, who, record).get("rows", []),
        },
        **stores,
    }
    scope = intake.details_of(ctx, record)  # what the subject chose: categories, formats
    if scope.get("categories"):
        found = packages.only(found, scope["categories"])
    now = ctx.clock()
    formats = scope.get("formats") or packages.FORMATS
    content = packages.build_zip(found, record.language, now, formats)
    with ctx.uow() as uow:
        info = packages.store(ctx, uow, record.tenant_id, record.id, content, now)
        uow.commit()
    counts = {s: {c: len(r) for c, r in cs.items()} for s, cs in found.items()}
    return {**info, "counts": counts}


def _identities(ctx: Context, record: RequestRecord) -> dict[str, str]:
    """The identities to look the subject up by in the datasets (Fides identity names)."""
    value = intake.identity_of(ctx, record)
    return {"email": value} if record.identity_kind == "email" else {"phone_number": value}


def _connectors(ctx: Context) -> list[AbstractConnector]:
    return ctx.connectors() if ctx.connectors is not None else []


def _no_datasets(ctx: Context) -> bool:
    return ctx.connectors is None and ctx.hooks is None


# The dataset steps ask the application endpoints first (``hooks.answers`` delivers the
# request once and raises ``hooks.Waiting`` until every result has come back), so that the
# databases are read or changed only in the run that completes the step.


def dataset_access(
    ctx: Context, who: Principal, record: RequestRecord
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Rows of the application's own stores reached from the subject's identity."""
    if _no_datasets(ctx):
        return {}
    identities = _identities(ctx, record)
    answered = hooks.answers(ctx, who, record, identities)
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for connector in _connectors(ctx):
        result = connector.access(identities).as_json()
        found[result["dataset"]] = result["collections"]
    for store, answer in answered.items():
        found[store] = answer["collections"]
    return found


def _store_categories(ctx: Context) -> set[str]:
    """Every data category the connected stores hold."""
    found: set[str] = set()
    for connector in _connectors(ctx):
        for collection in connector.dataset.collections:
            for field in collection.paths.values():
                found.update(field.data_categories or ())
    for entry in getattr(ctx.declarations, "datasets", ()):
        found.update(getattr(entry, "categories", None) or ())
    return found


def dataset_erasure(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    """Erase in every declared store (each all-or-nothing); what was kept, why, until."""
    if _no_datasets(ctx):
        return {}
    identities = _identities(ctx, record)
    with ctx.uow(read_only=True) as uow:
        subjects = [record.subject_id] if record.subject_id else []
        in_force = holds.in_force(ctx, uow, record.tenant_id, subjects)
    stored = _store_categories(ctx)
    relevant = [
        h
        for h in in_force
        if h.category is None
        or any(h.category.startswith(c) or c.startswith(h.category) for c in stored)
    ]
    if relevant:  # a hold on this subject, the tenant, or a category the stores hold
        return {
            "kept": [
                {"hold": h.id, "why": h.reason, "scope": h.as_dict()["scope"]} for h in relevant
            ]
        }
    answered = hooks.answers(ctx, who, record, identities)
    summary: dict[str, Any] = {}
    for connector in _connectors(ctx):
        result = connector.erase(identities)
        summary[result.dataset] = {
            c.collection: {
                "reached": c.reached,
                "deleted": c.deleted,
                "updated": c.updated,
                "kept": [
                    {"field": k.field, "reason": k.reason, "rows": k.rows, "until": k.until}
                    for k in c.kept
                ],
            }
            for c in result.collections
        }
    for store, answer in answered.items():
        summary[store] = answer["collections"]
    return summary


def dataset_rectification(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    """Correct declared-correctable fields whose categories match the corrected ones; an
    endpoint gets the corrections of the categories its store holds."""
    if _no_datasets(ctx):
        return {}
    fields: dict[str, str | None] = intake.details_of(ctx, record).get("fields", {})
    identities = _identities(ctx, record)
    answered = hooks.answers(ctx, who, record, identities, fields)
    summary: dict[str, Any] = {}
    for connector in _connectors(ctx):
        changes = {
            path: fields[category]
            for path, categories in connector.correctable_categories().items()
            for category in categories
            if category in fields
        }
        if changes:
            summary[connector.dataset.fides_key] = dict(
                connector.rectify(identities, changes).updated
            )
    for store, answer in answered.items():
        summary[store] = dict(answer["updated"])
    return summary


def vault_erasure(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    """Erase the vault data; what a retention rule of a legal obligation keeps is named."""
    sid = _subject(record)
    if sid is None:
        return {"erased": False, "reason": "no data in the vault"}
    with ctx.uow(read_only=True) as uow:
        subject = uow.subjects.get(record.tenant_id, sid)
        names = [f.category for f in uow.subjects.fields(record.tenant_id, sid)]
    if subject is None or subject.status == ERASED:
        return {"erased": True, "already": True}
    kept = _exempt(ctx, names, subject.created_at)
    with ctx.uow(read_only=True) as uow:
        in_force = holds.in_force(ctx, uow, record.tenant_id, [sid])
    held = {k["category"] for k in kept}
    for name in names:
        hold = holds.blocking(in_force, sid, name)
        if hold is not None and name not in held:
            kept.append(
                {
                    "category": name,
                    "hold": hold.id,
                    "why": hold.reason,
                    "until": hold.ends_on.isoformat() if hold.ends_on else None,
                }
            )
            held.add(name)
    if not kept:
        vault.erase(ctx, who, sid, f"erasure request {record.id}")
        return {"erased": True, "kept": []}
    removable = [n for n in names if n not in {k["category"] for k in kept}]
    if removable:
        vault.update(ctx, who, sid, dict.fromkeys(removable))
    return {"erased": True, "removed": removable, "kept": kept}


def _exempt(ctx: Context, names: list[str], created_at: int) -> list[dict[str, Any]]:
    """Categories a legal obligation requires keeping, with why and until when."""
    kept: list[dict[str, Any]] = []
    purposes = getattr(ctx.declarations, "purposes", ())
    created = dt.datetime.fromtimestamp(created_at / 1_000_000, tz=dt.UTC)
    for name in names:
        for purpose in purposes:
            if purpose.legal_basis != "legal_obligation" or name not in purpose.categories:
                continue
            if purpose.retention is None:
                continue
            until = purpose.retention.keep_duration.add_to(created).date()
            if until <= created.date() or until < dt.datetime.now(dt.UTC).date():
                continue
            kept.append(
                {
                    "category": name,
                    "purpose": purpose.key,
                    "why": purpose.description or f"required by law ({purpose.key})",
                    "until": until.isoformat(),
                    "counted_from": purpose.retention.after,
                }
            )
            break
    return kept


def vault_rectification(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    sid = _subject(record)
    if sid is None:
        return {"corrected": [], "reason": "no data in the vault"}
    fields = intake.details_of(ctx, record).get("fields", {})
    vault.update(ctx, who, sid, fields)
    return {"corrected": sorted(fields)}


def _standing_change(
    ctx: Context, record: RequestRecord, change: Callable[[Standing], Standing]
) -> dict[str, Any]:
    sid = _subject(record)
    if sid is None:
        return {"applied": False, "reason": "no data in the vault"}
    now = ctx.clock()
    with ctx.uow() as uow:
        current = uow.consent.standing(record.tenant_id, sid) or Standing()
        uow.consent.save_standing(record.tenant_id, sid, change(current))
        uow.consent.note_change(record.tenant_id, sid, now)
        uow.commit()
    if ctx.decisions is not None:
        ctx.decisions.invalidate(record.tenant_id, sid)
    return {"applied": True}


def restrict(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    return _standing_change(ctx, record, lambda s: replace(s, restricted=True))


def lift(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    return _standing_change(ctx, record, lambda s: replace(s, restricted=False))


def object_to(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    purpose = intake.details_of(ctx, record).get("purpose")
    purposes = getattr(ctx.declarations, "purposes", ())
    if purpose == "direct_marketing":
        keys = {p.key for p in purposes if p.use.startswith("marketing")}
    else:
        keys = {str(purpose)}
    result = _standing_change(ctx, record, lambda s: replace(s, objections=s.objections | keys))
    return {**result, "purposes": sorted(keys)}


def withdraw(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    sid = _subject(record)
    if sid is None:
        return {"withdrawn": []}
    events = consent.withdraw_all(ctx, who, sid, language=record.language)
    return {"withdrawn": sorted(e["purpose"] for e in events)}


def close_account(ctx: Context, who: Principal, record: RequestRecord) -> dict[str, Any]:
    sid = _subject(record)
    if sid is None:
        return {"closed": False, "reason": "no account in the vault"}
    now = ctx.clock()
    with ctx.uow() as uow:
        subject = uow.subjects.get(record.tenant_id, sid)
        if subject is not None and subject.status not in (ERASED, CLOSED):
            uow.subjects.set_status(record.tenant_id, sid, CLOSED, now)  # records closed_at
            uow.consent.note_change(record.tenant_id, sid, now)
            uow.audit.append(
                AuditEvent(
                    "subject.close", who.actor, record.tenant_id, sid, (), {"request": record.id}
                ),
                now,
            )
        uow.commit()
    if ctx.decisions is not None:
        ctx.decisions.invalidate(record.tenant_id, sid)
    return {"closed": True}


STEPS: dict[str, list[tuple[str, Step]]] = {
    "access": [("package", access_package)],
    "portability": [("package", access_package)],
    "rectification": [(VAULT, vault_rectification), ("datasets", dataset_rectification)],
    "erasure": [("withdraw", withdraw), ("datasets", dataset_erasure), (VAULT, vault_erasure)],
    "restriction": [("restrict", restrict)],
    "lift_restriction": [("lift", lift)],
    "objection": [("object", object_to)],
    "withdraw_consent": [("withdraw", withdraw)],
    "account_closure": [
        ("withdraw", withdraw),
        ("datasets", dataset_erasure),
        (VAULT, vault_erasure),
        ("close", close_account),
    ],
}
