"""Sunset: when the service stops, everyone is told, nothing new is collected, and everything
no legal hold keeps is deleted or anonymized; a signed report (counts only) proves it.

The sunset of a tenant runs in steps. Each finished step is written to the tenant's
checkpoint (``sunsets``), and what happened to each subject and recipient is written as it
happens (``sunset_items``), so a run cut off anywhere continues where it stopped when it is
started again:

1. ``stop``        mark the tenant: registering subjects and granting consent are refused
                   from now on (``services/stopped.py``).
2. ``notify``      queue one message to every subject with an email address in the vault,
                   in the encrypted outbox, in the same transaction as the subject's notice
                   record: a resumed run never tells a subject twice.
3. ``recipients``  mark every declared recipient closed and POST a signed notice to its
                   webhook, if it has one; a failure is recorded, and retried by the next run.
4. ``erase``       per subject: its rows in the connected datasets (through the connectors,
                   which delete or anonymize by the datasets' erasure strategies), then its
                   vault data; what a legal hold keeps stays, named by the hold's id.
5. ``shred``       no data key of an erased subject is left in the key store.
6. ``report``      the counts, signed with the receipts key (Ed25519 JWS), stored, returned.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from tutela.datasets.ports import AbstractConnector
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import ConfigurationError, InvalidInput, NotFound
from tutela.domain.identities import EMAIL_CATEGORY, PHONE_CATEGORY
from tutela.domain.subjects import ERASED, SubjectView, iso
from tutela.services import holds, mail, mail_texts, vault
from tutela.services.context import Context
from tutela.services.ports import (
    AbstractWebhooks,
    Hold,
    SubjectRecord,
    SunsetItem,
    SunsetState,
    WebhookFailed,
)

ALL = "ALL"
#: subjects handled per transaction while notifying, and per page while erasing
BATCH = 100
OUTBOX_KIND = "sunset.notice"
REPORT_TYPE = "tutela-sunset-report"
WEBHOOK_EVENT = "sunset"
# item kinds and their states
NOTICE, RECIPIENT, ERASURE = "notice", "recipient", "erasure"
QUEUED, NO_EMAIL = "queued", "no_email"
NOTIFIED, CLOSED, FAILED = "notified", "closed", "failed"
ERASING, ERASED_ITEM, KEPT = "erasing", "erased", "kept"

Step = Callable[[Context, Principal, AbstractWebhooks], dict[str, Any]]


def targets(ctx: Context, confirm: str | None) -> list[str]:
    """The tenants ``--confirm`` names: one tenant id, or ``ALL`` of them."""
    if not confirm:
        raise InvalidInput(
            "a sunset tells every subject the service stops, then deletes their data for "
            "good; confirm it with --confirm TENANT (or --confirm ALL for every tenant)"
        )
    with ctx.uow(read_only=True) as uow:
        tenants = [tenant_id for tenant_id, _name, _at in uow.tenants.list()]
    if confirm == ALL:
        return tenants
    if confirm not in tenants:
        raise InvalidInput(
            f"--confirm {confirm!r} names no tenant; give the id of the tenant to shut down "
            "(see tutela tenants list), or ALL",
            details={"confirm": confirm},
        )
    return [confirm]


def run(ctx: Context, who: Principal, webhooks: AbstractWebhooks) -> dict[str, Any]:
    """Run (or resume) the sunset of the principal's tenant; returns its signed report.

    Run again after it finished, it retries the recipients whose webhook failed, if any,
    and signs a new revision of the report.
    """
    who.require("tenants.manage")
    who.require("subjects.erase")
    state, started = _begin(ctx, who)
    ran: list[str] = ["stop"] if started else []
    for name, step in STEPS:
        if name in state.steps and not (name == "recipients" and _failed_recipients(ctx, who)):
            continue
        counts = step(ctx, who, webhooks)
        state = _finish_step(ctx, who, name, counts)
        ran.append(name)
    if ran or "report" not in state.steps:
        state = _report(ctx, who)
        ran.append("report")
    report = state.steps["report"]
    return {"tenant": state.tenant_id, "ran": ran, "report": report, "receipt": state.report}


# -- 1. stop ------------------------------------------------------------------------------


def _begin(ctx: Context, who: Principal) -> tuple[SunsetState, bool]:
    """The tenant's sunset, and whether this call started it."""
    tenant = who.tenant_id
    now = ctx.clock()
    with ctx.uow() as uow:
        state = uow.sunsets.get(tenant)
        if state is not None:
            return state, False
        if uow.tenants.get(tenant) is None:
            raise NotFound(f"no tenant {tenant}", details={"tenant": tenant})
        state = SunsetState(tenant, now, who.actor, {"stop": {"at": iso(now)}}, updated_at=now)
        uow.sunsets.start(state)
        uow.audit.append(
            AuditEvent("sunset.start", who.actor, tenant, None, (), {"step": "stop"}), now
        )
        uow.commit()
    return state, True


def _finish_step(ctx: Context, who: Principal, name: str, counts: dict[str, Any]) -> SunsetState:
    now = ctx.clock()
    with ctx.uow() as uow:
        state = uow.sunsets.get(who.tenant_id)
        assert state is not None
        state = replace(state, steps={**state.steps, name: counts}, updated_at=now)
        uow.sunsets.save(state)
        uow.audit.append(
            AuditEvent("sunset.step", who.actor, who.tenant_id, None, (), {"step": name, **counts}),
            now,
        )
        uow.commit()
    return state


# -- 2. notify ----------------------------------------------------------------------------


def _organization(ctx: Context) -> tuple[str, str | None]:
    organization = getattr(ctx.declarations, "organization", None)
    if organization is None:
        return "The service", None
    return str(organization.name), str(organization.contact)


def _message(ctx: Context, tenant_name: str | None, language: str) -> tuple[str, str]:
    name, contact = _organization(ctx)
    return mail_texts.closing(language, name, tenant_name, contact)


def notify(ctx: Context, who: Principal, webhooks: AbstractWebhooks) -> dict[str, Any]:
    tenant = who.tenant_id
    with ctx.uow(read_only=True) as uow:
        found = uow.tenants.get(tenant)
    tenant_name = found[1] if found is not None and tenant != "default" else None
    default = str(getattr(ctx.declarations, "default_language", "en"))
    messages: dict[str, tuple[str, str]] = {}
    for page in vault.pages(ctx, tenant, BATCH):
        with ctx.uow() as uow:
            told = uow.sunsets.items(tenant, NOTICE, [r.id for r, _ in page])
            now = ctx.clock()
            for record, names in page:
                if record.id in told or record.status == ERASED:
                    continue
                email: str | None = None
                if EMAIL_CATEGORY in names:
                    view = vault._read_in(ctx, uow, who, record.id, "sunset.notify")
                    email = view.fields.get(EMAIL_CATEGORY)
                if email:
                    language = record.language or default
                    if language not in messages:
                        messages[language] = _message(ctx, tenant_name, language)
                    subject, body = messages[language]
                    key = f"sunset:{tenant}:{record.id}"
                    mail.queue(ctx, uow, tenant, OUTBOX_KIND, email, subject, body, now, key=key)
                item = SunsetItem(NOTICE, record.id, QUEUED if email else NO_EMAIL, 1, None, now)
                uow.sunsets.put_item(tenant, item, new=True)
            uow.commit()
    _deliver(ctx)
    with ctx.uow(read_only=True) as uow:
        counts = uow.sunsets.count_items(tenant, NOTICE)
    return {"notified": counts.get(QUEUED, 0), "without_email": counts.get(NO_EMAIL, 0)}


def _deliver(ctx: Context) -> None:
    """Send what the outbox holds now (the worker sends what is left or retried later)."""
    if ctx.mailer is None:
        return
    while True:
        sent = mail.deliver(ctx, ctx.mailer)
        if sent.sent + sent.retrying + sent.failed == 0:
            return


# -- 3. recipients ------------------------------------------------------------------------


def _declared_recipients(ctx: Context) -> Sequence[Any]:
    return tuple(getattr(ctx.declarations, "recipients", ()))


def _failed_recipients(ctx: Context, who: Principal) -> bool:
    with ctx.uow(read_only=True) as uow:
        return uow.sunsets.count_items(who.tenant_id, RECIPIENT).get(FAILED, 0) > 0


def close_recipients(ctx: Context, who: Principal, webhooks: AbstractWebhooks) -> dict[str, Any]:
    tenant = who.tenant_id
    with ctx.uow(read_only=True) as uow:
        known = uow.sunsets.items(tenant, RECIPIENT)
        state = uow.sunsets.get(tenant)
    assert state is not None
    for recipient in _declared_recipients(ctx):
        item = known.get(recipient.name)
        if item is not None and item.state != FAILED:
            continue
        attempts = (item.attempts if item is not None else 0) + 1
        now = ctx.clock()
        outcome, error = CLOSED, None
        if recipient.webhook is not None:
            try:
                _post(ctx, webhooks, tenant, recipient, state.started_at, attempts, now)
                outcome = NOTIFIED
            except WebhookFailed as exc:
                outcome, error = FAILED, str(exc)[:200]
        detail = {"error": error} if error else None
        with ctx.uow() as uow:
            uow.sunsets.put_item(
                tenant,
                SunsetItem(RECIPIENT, recipient.name, outcome, attempts, detail, now),
                new=item is None,
            )
            uow.audit.append(
                AuditEvent(
                    "sunset.recipient",
                    who.actor,
                    tenant,
                    None,
                    (),
                    {"recipient": recipient.name, "state": outcome, "attempt": attempts},
                ),
                now,
            )
            uow.commit()
    with ctx.uow(read_only=True) as uow:
        counts = uow.sunsets.count_items(tenant, RECIPIENT)
    return {"notified": counts.get(NOTIFIED, 0), "failed": counts.get(FAILED, 0)}


def _post(
    ctx: Context,
    webhooks: AbstractWebhooks,
    tenant: str,
    recipient: Any,
    closed_at: int,
    attempt: int,
    now: int,
) -> None:
    from tutela.services import hooks  # the same signature as the application endpoints

    name, contact = _organization(ctx)
    notice = {
        "type": "tutela.sunset",
        "tenant": tenant,
        "organization": name,
        "contact": contact,
        "recipient": recipient.name,
        "role": recipient.role,
        "closed_at": iso(closed_at),
        "sent_at": iso(now),
        "attempt": attempt,
        "instruction": (
            f"{name} has stopped the service: stop processing the personal data received for "
            "it, and delete it unless a law requires you to keep it."
        ),
    }
    body = json.dumps(notice, sort_keys=True, separators=(",", ":")).encode()
    secret = webhooks.secret(recipient.webhook_secret)
    signature = hooks.sign(secret, body, now // 1_000_000)
    webhooks.post(
        recipient.webhook,
        body,
        {hooks.SIGNATURE_HEADER: signature, "Tutela-Event": WEBHOOK_EVENT},
    )


# -- 4. erase -----------------------------------------------------------------------------


def erase(ctx: Context, who: Principal, webhooks: AbstractWebhooks) -> dict[str, Any]:
    tenant = who.tenant_id
    connectors = ctx.connectors() if ctx.connectors is not None else []
    for page in vault.pages(ctx, tenant, BATCH):
        ids = [r.id for r, _ in page]
        with ctx.uow(read_only=True) as uow:
            done = uow.sunsets.items(tenant, ERASURE, ids)
            kept_by = holds.in_force(ctx, uow, tenant, ids)
        for record, _names in page:
            item = done.get(record.id)
            if item is not None and item.state != ERASING:
                continue
            if item is None and record.status == ERASED:
                continue  # erased before the sunset: nothing left to do or to count
            _erase_subject(ctx, who, record, item, kept_by, connectors)
    with ctx.uow(read_only=True) as uow:
        counts = uow.sunsets.count_items(tenant, ERASURE)
    return {"erased": counts.get(ERASED_ITEM, 0), "kept": counts.get(KEPT, 0)}


def _erase_subject(
    ctx: Context,
    who: Principal,
    record: SubjectRecord,
    item: SunsetItem | None,
    kept_by: Sequence[Hold],
    connectors: Sequence[AbstractConnector],
) -> None:
    tenant = who.tenant_id
    with ctx.uow() as uow:  # the intent is recorded with the read that finds the identities
        view = vault._read_in(ctx, uow, who, record.id, "sunset.erase")
        attempts = 1 if item is None else item.attempts + 1
        intent = SunsetItem(ERASURE, record.id, ERASING, attempts, None, ctx.clock())
        uow.sunsets.put_item(tenant, intent, new=item is None)
        uow.commit()
    holding = [h for h in kept_by if h.covers(record.id, None)]
    detail: dict[str, Any] = {}
    datasets, held_datasets = _erase_datasets(view, record.id, holding, connectors)
    if datasets:
        detail["datasets"] = datasets
    if held_datasets:
        detail["datasets_held"] = held_datasets
    names = [*view.fields, *view.hashed]
    kept = {n: h.id for n in names if (h := holds.blocking(holding, record.id, n)) is not None}
    outcome = ERASED_ITEM
    if view.status == ERASED or not kept:
        vault.erase(ctx, who, record.id, "sunset: the service has stopped")
    else:
        removable = [n for n in names if n not in kept]
        if removable:
            vault.update(ctx, who, record.id, dict.fromkeys(removable))
        detail["kept"] = dict(Counter(kept.values()))
        outcome = KEPT
    with ctx.uow() as uow:
        done = SunsetItem(ERASURE, record.id, outcome, attempts, detail or None, ctx.clock())
        uow.sunsets.put_item(tenant, done, new=False)
        uow.commit()


def _identities(view: SubjectView) -> dict[str, str]:
    found = {
        "email": view.fields.get(EMAIL_CATEGORY),
        "phone_number": view.fields.get(PHONE_CATEGORY),
    }
    return {kind: value for kind, value in found.items() if value}


def _erase_datasets(
    view: SubjectView,
    subject_id: str,
    holding: Sequence[Hold],
    connectors: Sequence[AbstractConnector],
) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """Rows deleted and updated per dataset, and the datasets a hold kept (hold id)."""
    identities = _identities(view)
    erased: dict[str, dict[str, int]] = {}
    held: dict[str, str] = {}
    if not identities:
        return erased, held
    for connector in connectors:
        name = connector.dataset.fides_key
        hold = _dataset_hold(holding, subject_id, connector)
        if hold is not None:
            held[name] = hold.id
            continue
        result = connector.erase(identities)
        erased[name] = {"deleted": result.deleted, "updated": result.updated}
    return erased, held


def _dataset_hold(
    holding: Sequence[Hold], subject_id: str, connector: AbstractConnector
) -> Hold | None:
    """A hold that keeps data this dataset may hold about the subject: the subject's or the
    tenant's, or one on a category the dataset stores (or one above or below it)."""
    categories: set[str] | None = None
    for hold in holding:
        if not hold.covers(subject_id, None):
            continue
        if hold.category is None:
            return hold
        categories = set(connector.dataset.categories) if categories is None else categories
        wanted = hold.category
        if any(
            c == wanted or c.startswith(f"{wanted}.") or wanted.startswith(f"{c}.")
            for c in categories
        ):
            return hold
    return None


# -- 5. shred -----------------------------------------------------------------------------


def shred(ctx: Context, who: Principal, webhooks: AbstractWebhooks) -> dict[str, Any]:
    """Delete any data key still held for an erased subject of the tenant."""
    removed = 0
    for page in vault.pages(ctx, who.tenant_id, BATCH):
        for record, _names in page:
            if record.status == ERASED and ctx.keys.delete(record.id):
                removed += 1
    with ctx.uow(read_only=True) as uow:
        counts = uow.sunsets.count_items(who.tenant_id, ERASURE)
    return {"shredded": counts.get(ERASED_ITEM, 0) + removed, "kept": counts.get(KEPT, 0)}


# -- 6. report ----------------------------------------------------------------------------


def _report(ctx: Context, who: Principal) -> SunsetState:
    """Sign the counts (a new revision when the report is written again) and store them."""
    if ctx.signer is None:
        raise ConfigurationError("no signing key: the sunset report cannot be signed")
    tenant = who.tenant_id
    with ctx.uow(read_only=True) as uow:
        state = uow.sunsets.get(tenant)
        assert state is not None
        notices = uow.sunsets.count_items(tenant, NOTICE)
        recipients = uow.sunsets.count_items(tenant, RECIPIENT)
        erasures = uow.sunsets.count_items(tenant, ERASURE)
        held, datasets = _totals(uow.sunsets.item_details(tenant, ERASURE))
    now = ctx.clock()
    revision = int(state.steps.get("report", {}).get("revision", 0)) + 1
    keys = state.steps.get("shred", {})
    payload: dict[str, Any] = {
        "type": REPORT_TYPE,
        "tenant": tenant,
        "organization": _organization(ctx)[0],
        "started_at": iso(state.started_at),
        "finished_at": iso(now),
        "revision": revision,
        "declarations_version": ctx.declarations_version,
        "subjects": {
            "notified": notices.get(QUEUED, 0),
            "without_email": notices.get(NO_EMAIL, 0),
            "erased": erasures.get(ERASED_ITEM, 0),
            "kept_by_holds": erasures.get(KEPT, 0),
        },
        "holds": held,
        "recipients": {
            "closed": sum(recipients.values()),
            "notified": recipients.get(NOTIFIED, 0),
            "failed": recipients.get(FAILED, 0),
            "without_webhook": recipients.get(CLOSED, 0),
        },
        "datasets": datasets,
        "keys": {"shredded": int(keys.get("shredded", 0)), "kept": int(keys.get("kept", 0))},
    }
    token = ctx.signer.sign(payload)
    with ctx.uow() as uow:
        current = uow.sunsets.get(tenant)
        assert current is not None
        steps = {**current.steps, "report": payload}
        state = replace(current, steps=steps, finished_at=now, report=token, updated_at=now)
        uow.sunsets.save(state)
        uow.audit.append(
            AuditEvent("sunset.report", who.actor, tenant, None, (), {"revision": revision}),
            now,
        )
        uow.commit()
    return state


def _totals(
    details: Iterator[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(per hold: the subjects it kept data of and the vault fields it kept; per dataset: rows
    deleted and updated, subjects a hold kept) from the erasure details."""
    subjects: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    rows: dict[str, Counter[str]] = {}
    for detail in details:
        kept: dict[str, int] = detail.get("kept", {})
        held_datasets: dict[str, str] = detail.get("datasets_held", {})
        for hold_id in {*kept, *held_datasets.values()}:
            subjects[hold_id] += 1
            fields[hold_id] += int(kept.get(hold_id, 0))
        for name, counts in detail.get("datasets", {}).items():
            rows.setdefault(name, Counter()).update(
                {"rows_deleted": counts["deleted"], "rows_updated": counts["updated"]}
            )
        for name in held_datasets:
            rows.setdefault(name, Counter())["subjects_held"] += 1
    held = [
        {"hold": hold_id, "subjects": subjects[hold_id], "fields": fields[hold_id]}
        for hold_id in sorted(subjects)
    ]
    datasets = [
        {
            "dataset": name,
            "rows_deleted": counts["rows_deleted"],
            "rows_updated": counts["rows_updated"],
            "subjects_held": counts["subjects_held"],
        }
        for name, counts in sorted(rows.items())
    ]
    return held, datasets


STEPS: list[tuple[str, Step]] = [
    ("notify", notify),
    ("recipients", close_recipients),
    ("erase", erase),
    ("shred", shred),
]
