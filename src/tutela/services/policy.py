"""Policy versions: publish the declarations as a new immutable version that takes effect on a
date, tell every concerned subject before that date, and put the version in force on it.

* **publish** checks the file as ``tutela check`` does, compares it with the latest stored
  version, and refuses a version with material changes whose effective date leaves less than
  the configured notice period (the error names the earliest allowed date). It then queues a
  notice to every concerned subject (see :mod:`tutela.declarations.impact`) in the subject's
  language. Queuing is idempotent per version and subject, so ``notify`` can resume a run
  that stopped halfway.
* **apply_due** (run by the worker) puts each version in force once its date is reached:
  consent-based purposes the change touches need fresh consent from then on (the consent
  check answers ``consent_stale`` for consents given before), and running processes switch
  to the new declarations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tutela.declarations import Declarations, load_declarations
from tutela.declarations.diff import Change, diff_declarations, is_material
from tutela.declarations.impact import NONE, Impact, impact_of
from tutela.domain.access import Principal
from tutela.domain.audit import SYSTEM_CHAIN, AuditEvent
from tutela.domain.errors import Conflict, InvalidInput, NotFound
from tutela.domain.identities import EMAIL_CATEGORY
from tutela.domain.subjects import ERASED, iso
from tutela.services import mail, vault
from tutela.services.context import Context
from tutela.services.decisions import ALL
from tutela.services.ports import AbstractUnitOfWork, PolicyVersion

NOTICE_KIND = "policy_change"
BATCH = 200
DAY = 86_400 * 1_000_000

#: (declarations, language, material changes, label, effective date, privacy-center URL)
#: -> (mail subject, plain-text body)
Composer = Callable[
    [Declarations, str, Sequence[Change], str, dt.date, str | None], tuple[str, str]
]


def _default_composer(
    declarations: Declarations,
    language: str,
    changes: Sequence[Change],
    label: str,
    effective: dt.date,
    url: str | None,
) -> tuple[str, str]:
    from tutela.notices.mail import policy_change_message

    return policy_change_message(
        declarations, language, changes, label=label, effective=effective, privacy_center_url=url
    )


def _day(micros: int) -> dt.date:
    return dt.datetime.fromtimestamp(micros / 1_000_000, dt.UTC).date()


def _start_of(day: dt.date) -> int:
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000


def earliest_effective(ctx: Context, material: bool) -> dt.date:
    """The first date a new version may take effect, published now."""
    today = _day(ctx.clock())
    return today + dt.timedelta(days=ctx.policy_notice_days if material else 0)


def publish(
    ctx: Context,
    who: Principal,
    file: Path,
    effective: dt.date | None = None,
    *,
    label: str | None = None,
    composer: Composer | None = None,
) -> dict[str, Any]:
    """Store the declaration file as a new version taking effect on ``effective`` (00:00 UTC;
    default: the file's ``policy.effective``) and queue the change notices it requires."""
    who.require("policy.publish")
    new = load_declarations(file)  # refused with the problems `tutela check` prints
    effective, label = _version_of(file, new, effective, label)
    with ctx.uow(read_only=True) as uow:
        latest = uow.declarations.current()
        used = {v.label: v.id for v in uow.declarations.versions() if v.label}
    old = Declarations.model_validate_json(latest[2]) if latest else None
    document = new.model_dump_json()
    digest = hashlib.sha256(document.encode()).hexdigest()
    if latest is not None and latest[1] == digest:
        raise Conflict(
            f"{file} holds the same declarations as the latest version ({latest[0]}); "
            "nothing to publish",
            details={"version": latest[0]},
        )
    if label in used:
        raise Conflict(
            f"version label {label!r} is already used by version {used[label]}; set a new "
            f"policy.version in {file} (or give --label)",
            details={"label": label, "version": used[label]},
        )
    changes = diff_declarations(old, new) if old is not None else []
    material = is_material(changes)
    earliest = earliest_effective(ctx, material)
    if effective < earliest:
        if material:
            message = (
                f"the version changes material points, which subjects must be told "
                f"{ctx.policy_notice_days} days before they take effect; the earliest "
                f"allowed effective date is {earliest.isoformat()}"
            )
        else:
            message = f"the effective date {effective.isoformat()} is in the past"
        raise InvalidInput(
            message,
            details={"effective": effective.isoformat(), "earliest": earliest.isoformat()},
        )
    now = ctx.clock()
    with ctx.uow() as uow:
        version = uow.declarations.add(
            str(file.resolve()),
            digest,
            document,
            now,
            label=label,
            effective_at=_start_of(effective),
            published_by=who.actor,
            material=material,
        )
        details = {
            "version": version,
            "label": label,
            "effective": effective.isoformat(),
            "material": material,
            "changes": len(changes),
            "material_changes": sum(1 for c in changes if c.material),
            "sha256": digest,
        }
        uow.audit.append(
            AuditEvent("policy.publish", who.actor, SYSTEM_CHAIN, None, (), details), now
        )
        uow.commit()
    result = show(ctx, who, version)
    result["changes"] = [c.as_dict() for c in changes]
    if material:
        result["notices"] = notify(ctx, who, version, composer=composer)
    return result


def _version_of(
    file: Path, declarations: Declarations, effective: dt.date | None, label: str | None
) -> tuple[dt.date, str]:
    """The effective date and label: given, or from the file's ``policy`` block (which the
    notice shows, so the two must agree)."""
    block = declarations.policy
    if effective is None:
        if block is None:
            raise InvalidInput(
                f"{file} has no policy block and no effective date was given; give "
                "--effective YYYY-MM-DD or add policy: {version: ..., effective: ...}",
                details={"file": str(file)},
            )
        effective = block.effective
    elif block is not None and block.effective != effective:
        raise InvalidInput(
            f"{file} says policy.effective: {block.effective.isoformat()}, but the version is "
            f"to take effect on {effective.isoformat()}; make the two agree (the notice shows "
            "the date in the file)",
            details={"file": str(file), "declared": block.effective.isoformat()},
        )
    if label is None:
        label = block.version if block is not None else effective.isoformat()
    elif block is not None and block.version != label:
        raise InvalidInput(
            f"{file} says policy.version: {block.version!r}, but the label given is "
            f"{label!r}; make the two agree (the notice shows the label in the file)",
            details={"file": str(file), "declared": block.version},
        )
    return effective, label


def _pair(
    uow: AbstractUnitOfWork, version: int
) -> tuple[PolicyVersion, Declarations, Declarations | None]:
    found = uow.declarations.get(version)
    if found is None:
        raise NotFound(
            f"there is no policy version {version}; `tutela policy list` shows them",
            details={"version": version},
        )
    record, document = found
    earlier = [v for v in uow.declarations.versions() if v.id < version]
    before = uow.declarations.get(earlier[-1].id) if earlier else None
    old = Declarations.model_validate_json(before[1]) if before else None
    return record, Declarations.model_validate_json(document), old


def changes_of(ctx: Context, version: int) -> tuple[list[Change], Impact]:
    """What a stored version changed from the one before it, and whom it concerns."""
    with ctx.uow(read_only=True) as uow:
        _, new, old = _pair(uow, version)
    if old is None:
        return [], NONE
    changes = diff_declarations(old, new)
    return changes, impact_of(changes, old, new)


def declarations_of(ctx: Context, version: int) -> Declarations:
    with ctx.uow(read_only=True) as uow:
        return _pair(uow, version)[1]


def _status(record: PolicyVersion, in_force: int | None, now: int) -> str:
    if record.id == in_force:
        return "in_force"
    if record.effective_at is not None and record.effective_at > now:
        return "scheduled"
    return "superseded"


def _as_dict(record: PolicyVersion, status: str, notices: dict[str, int]) -> dict[str, Any]:
    return {
        "version": record.id,
        "label": record.label,
        "status": status,
        "effective": _day(record.in_force_from()).isoformat(),
        "published_at": iso(record.loaded_at),
        "published_by": record.published_by,
        "material": record.material,
        "applied_at": iso(record.applied_at) if record.applied_at is not None else None,
        "sha256": record.sha256,
        "notices": notices,
    }


def list_versions(ctx: Context, who: Principal) -> list[dict[str, Any]]:
    """Every stored version, newest first, with its status and notice counts."""
    who.require("policy.read")
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        records = uow.declarations.versions()
        current = uow.declarations.current(now)
        in_force = current[0] if current else None
        return [
            _as_dict(r, _status(r, in_force, now), uow.requests.mail_states(f"policy:{r.id}:"))
            for r in reversed(records)
        ]


def show(ctx: Context, who: Principal, version: int) -> dict[str, Any]:
    who.require("policy.read")
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        record = _pair(uow, version)[0]
        current = uow.declarations.current(now)
        notices = uow.requests.mail_states(f"policy:{version}:")
    data = _as_dict(record, _status(record, current[0] if current else None, now), notices)
    changes, impact = changes_of(ctx, version)
    data["material_changes"] = [c.as_dict() for c in changes if c.material]
    data["concerns"] = impact.as_dict()
    return data


# --- notices ---------------------------------------------------------------------------


def notify(
    ctx: Context, who: Principal, version: int, *, composer: Composer | None = None
) -> dict[str, int]:
    """Queue the notice of a version's material changes to every concerned subject (at most
    once per subject: safe to run again after an interruption)."""
    who.require("policy.publish")
    compose = composer or _default_composer
    with ctx.uow(read_only=True) as uow:
        record, new, old = _pair(uow, version)
        tenant_ids = [t[0] for t in uow.tenants.list()]
    counts = {"concerned": 0, "queued": 0, "already_queued": 0, "without_email": 0}
    if old is None:
        return counts
    changes = [c for c in diff_declarations(old, new) if c.material]
    impact = impact_of(changes, old, new)
    if not impact.anyone:
        return counts
    effective = _day(record.in_force_from())
    label = record.label or effective.isoformat()
    texts: dict[tuple[str, str], tuple[str, str]] = {}
    purposes = sorted(impact.purposes)
    for tenant in tenant_ids:
        acting = Principal(tenant, who.scopes, who.actor)
        tenant_counts = dict.fromkeys(counts, 0)
        for page in vault.pages(ctx, tenant, BATCH):
            with ctx.uow() as uow:
                live = [(r, names) for r, names in page if r.status != ERASED]
                deciders = (
                    set()
                    if impact.everyone
                    else uow.consent.deciders(tenant, [r.id for r, _ in live], purposes)
                )
                now = ctx.clock()
                for subject, names in live:
                    if not (
                        impact.everyone
                        or impact.categories.intersection(names)
                        or subject.id in deciders
                    ):
                        continue
                    tenant_counts["concerned"] += 1
                    if EMAIL_CATEGORY not in names:
                        tenant_counts["without_email"] += 1
                        continue
                    view = vault._read_in(ctx, uow, acting, subject.id, "policy.notify")
                    email = view.fields.get(EMAIL_CATEGORY)
                    if not email:
                        tenant_counts["without_email"] += 1
                        continue
                    language = subject.language or new.default_language
                    if (tenant, language) not in texts:
                        url = f"{ctx.public_url.rstrip('/')}/privacy/{tenant}/"
                        texts[tenant, language] = compose(
                            new, language, changes, label, effective, url
                        )
                    subject_line, body = texts[tenant, language]
                    key = f"policy:{version}:{tenant}:{subject.id}"
                    queued = mail.queue(
                        ctx, uow, tenant, NOTICE_KIND, email, subject_line, body, now, key=key
                    )
                    tenant_counts["queued" if queued is not None else "already_queued"] += 1
                uow.commit()
        if tenant_counts["concerned"]:
            with ctx.uow() as uow:
                details: dict[str, Any] = {"version": version, **tenant_counts}
                uow.audit.append(
                    AuditEvent("policy.notify", who.actor, tenant, None, (), details), ctx.clock()
                )
                uow.commit()
        for name, value in tenant_counts.items():
            counts[name] += value
    return counts


# --- taking effect ---------------------------------------------------------------------


def apply_due(ctx: Context, actor: str = "worker") -> list[dict[str, Any]]:
    """Put in force every version whose effective date has come (each exactly once, even
    with several workers): consent-based purposes it touches need fresh consent."""
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        due = [
            v.id
            for v in uow.declarations.versions()
            if v.effective_at is not None and v.applied_at is None and v.effective_at <= now
        ]
    applied: list[dict[str, Any]] = []
    for version in due:
        _, impact = changes_of(ctx, version)
        with ctx.uow() as uow:
            record = _pair(uow, version)[0]
            if not uow.declarations.mark_applied(version, now):
                continue
            effective_at = record.effective_at or now
            for purpose in sorted(impact.renew):
                uow.consent.require_renewal(purpose, version, actor, effective_at)
            details = {"version": version, "renew_consent": sorted(impact.renew)}
            uow.audit.append(
                AuditEvent("policy.in_force", actor, SYSTEM_CHAIN, None, (), details), now
            )
            uow.consent.note_change(ALL, ALL, now)
            uow.commit()
        applied.append(details)
    if applied:
        if ctx.reload_declarations is not None:
            ctx.reload_declarations()
        if ctx.decisions is not None:
            from tutela.services.consent import current_rules

            ctx.decisions.rules = current_rules(ctx)
            ctx.decisions.clear()
    return applied


__all__ = [
    "NOTICE_KIND",
    "Composer",
    "apply_due",
    "changes_of",
    "declarations_of",
    "earliest_effective",
    "list_versions",
    "notify",
    "publish",
    "show",
]
