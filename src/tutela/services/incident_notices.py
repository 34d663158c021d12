"""Telling subjects of an incident: one notice per subject, in the subject's language.

Each notice says what happened, which of *the subject's* data categories the incident
involves (only those it holds), the likely consequences, what was done, what the subject
can do, and how to reach the organization and its data protection officer. It is queued in
the encrypted outbox in the same transaction as the subject's notice record, under an
idempotency key per incident and subject, so running ``notify`` again tells no one twice;
it tells subjects found since (new categories, a new tenant). Erased subjects are never
told: their data, email address included, no longer exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tutela.domain import incidents as rules
from tutela.domain.access import Principal
from tutela.domain.errors import Conflict
from tutela.domain.identities import EMAIL_CATEGORY
from tutela.domain.subjects import ERASED
from tutela.services import incident_texts as texts
from tutela.services import incidents, mail, vault
from tutela.services.context import Context
from tutela.services.incident_records import AffectedSubject, IncidentRecord
from tutela.services.ports import AbstractUnitOfWork

OUTBOX_KIND = "incident.notice"
QUEUED, NO_EMAIL = "queued", "no_email"
#: subjects handled per transaction
BATCH = 100


def default_language(ctx: Context) -> str:
    languages = tuple(getattr(ctx.declarations, "languages", ()) or ("en",))
    return str(languages[0])


def subject_language(ctx: Context, language: str | None) -> str:
    """The subject's language if it is declared, else the declared default one."""
    languages = tuple(getattr(ctx.declarations, "languages", ()) or ("en",))
    return language if language is not None and language in languages else str(languages[0])


def organization(ctx: Context) -> dict[str, Any]:
    found = getattr(ctx.declarations, "organization", None)
    if found is None:
        return {"name": "", "contact": "", "address": None, "country": None, "dpo": None}
    dpo = getattr(found, "dpo", None)
    return {
        "name": str(found.name),
        "contact": str(found.contact),
        "address": getattr(found, "address", None),
        "country": getattr(found, "country", None),
        "dpo": None if dpo is None else {"name": dpo.name or "", "email": str(dpo.email)},
    }


def category_names(ctx: Context, keys: Sequence[str], language: str) -> list[str]:
    """The names of these categories in ``language``, each name once."""
    parents = incidents.parents_of(ctx)
    names = [texts.category_label(incidents.ancestry(key, parents), language, key) for key in keys]
    return list(dict.fromkeys(names))


def message(
    ctx: Context, record: IncidentRecord, categories: Sequence[str], language: str
) -> tuple[str, str]:
    """The subject line and the body of one subject's notice."""
    org = organization(ctx)
    _ = texts.gettext(language)
    subject = _("%(organization)s: Notice of Data Breach") % {"organization": org["name"]}
    body = texts.render(
        "notice.txt.j2",
        language,
        organization=org,
        summary=record.summary,
        aware=texts.when(incidents.moment(record.aware_at), language),
        began=texts.when(incidents.moment(record.began_at), language) if record.began_at else None,
        categories=category_names(ctx, categories, language),
        consequences=record.consequences,
        measures=list(record.measures) or [_(m) for m in texts.DEFAULT_MEASURES],
        advice=list(record.advice) or [_(a) for a in texts.DEFAULT_ADVICE],
    )
    return subject, body


def notify(ctx: Context, who: Principal, incident_id: str) -> dict[str, Any]:
    """Queue a notice to every affected subject not told yet, then mark the subject clocks
    met. Needs a risk assessment first: it says whether the law requires the notices."""
    who.require("incidents.manage")
    with ctx.uow(read_only=True) as uow:
        record = incidents.get(uow, who, incident_id)
    rules.require_open(record.state, record.id)
    if record.assessment is None:
        raise Conflict(
            "assess the risk first (tutela incidents assess): the decision says whether the "
            "law requires telling the subjects",
            details={"incident": record.id},
        )
    categories = incidents.incident_categories(ctx, record)
    queued = without_email = 0
    for tenant in record.tenants:
        reader = incidents.acting_principal(who, tenant)
        after = ""
        while True:
            with ctx.uow() as uow:
                page = uow.incidents.affected_page(tenant, categories, after, BATCH)
                if not page:
                    break
                after = page[-1].subject_id
                done = uow.incidents.noticed(record.id, tenant, [s.subject_id for s in page])
                now = ctx.clock()
                for subject in page:
                    if subject.subject_id in done:
                        continue
                    told = _notify_one(ctx, uow, reader, record, subject, now)
                    if told is True:
                        queued += 1
                    elif told is False:
                        without_email += 1
                uow.commit()
    record = _mark_met(ctx, who, record.id, queued, without_email)
    _deliver(ctx)
    with ctx.uow(read_only=True) as uow:
        counts = uow.incidents.count_notices(record.id)
    return {
        "incident": record.id,
        "queued": queued,
        "without_email": without_email,
        "total": {"queued": counts.get(QUEUED, 0), "no_email": counts.get(NO_EMAIL, 0)},
        "clocks": incidents.view(ctx, record, ctx.clock())["clocks"],
    }


def _notify_one(
    ctx: Context,
    uow: AbstractUnitOfWork,
    reader: Principal,
    record: IncidentRecord,
    subject: AffectedSubject,
    now: int,
) -> bool | None:
    """True queued, False without an email address, None erased meanwhile (not recorded)."""
    view = vault._read_in(ctx, uow, reader, subject.subject_id, "incident.notify")
    if view.status == ERASED:
        return None
    language = subject_language(ctx, subject.language)
    email = view.fields.get(EMAIL_CATEGORY)
    if email:
        title, body = message(ctx, record, subject.categories, language)
        key = f"incident:{record.id}:{reader.tenant_id}:{subject.subject_id}"
        mail.queue(ctx, uow, reader.tenant_id, OUTBOX_KIND, email, title, body, now, key=key)
    state = QUEUED if email else NO_EMAIL
    uow.incidents.add_notice(record.id, reader.tenant_id, subject.subject_id, state, language, now)
    return bool(email)


def _mark_met(
    ctx: Context, who: Principal, incident_id: str, queued: int, without_email: int
) -> IncidentRecord:
    now = ctx.clock()
    with ctx.uow() as uow:
        record = incidents.get(uow, who, incident_id, lock=True)
        met = dict(record.met)
        keys = [
            c.key
            for c in incidents.clocks_of(ctx, record)
            if c.audience == rules.SUBJECTS and c.running and c.key not in met
        ]
        met.update(dict.fromkeys(keys, now))
        voluntary = not any(
            c.audience == rules.SUBJECTS and c.running for c in incidents.clocks_of(ctx, record)
        )
        record = replace(record, met=met, updated_at=now)
        uow.incidents.save(record)
        words = f"subjects told: {queued} notices queued, {without_email} without an email address"
        if voluntary:
            words += " (no law required it)"
        incidents.record_change(
            uow,
            who,
            record,
            "notify",
            words,
            {"queued": queued, "without_email": without_email, "clocks": keys},
            now,
        )
        uow.commit()
    return record


def _deliver(ctx: Context) -> None:
    """Send what the outbox holds now (the worker sends what is left or retried later)."""
    if ctx.mailer is None:
        return
    while True:
        sent = mail.deliver(ctx, ctx.mailer)
        if sent.sent + sent.retrying + sent.failed == 0:
            return
