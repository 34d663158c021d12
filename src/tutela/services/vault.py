"""Use cases on data subjects: register, read, look up, correct, list, erase, verify.

Every read or write of personal data is audited in the same transaction as the change (reads
commit their audit entry before the values are returned). Slow work (argon2id) happens before
a transaction opens so no database lock is held while hashing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from tutela.domain import identities
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Conflict, InvalidInput, NotFound, SubjectErased
from tutela.domain.subjects import (
    ACTIVE,
    BIRTH_DATE_CATEGORY,
    ERASED,
    FieldChange,
    SubjectView,
    check_changes,
)
from tutela.services import consent, stopped
from tutela.services.context import Context
from tutela.services.ports import (
    AbstractCipher,
    AbstractUnitOfWork,
    Standing,
    StoredField,
    SubjectRecord,
)


@dataclass(frozen=True, slots=True)
class SubjectPage:
    items: list[dict[str, object]]
    next_cursor: str | None


def _today(ctx: Context) -> dt.date:
    return dt.datetime.fromtimestamp(ctx.clock() / 1_000_000, tz=dt.UTC).date()


def _not_found(subject_id: str) -> NotFound:
    return NotFound(
        f"no subject {subject_id} in this tenant; check the id or look it up by email/phone",
        details={"subject_id": subject_id},
    )


def _stored(ctx: Context, cipher: AbstractCipher, change: FieldChange) -> StoredField:
    assert change.value is not None
    if change.storage == "hash":
        return StoredField(change.category, "h", ctx.crypto.hash_secret(change.value).encode())
    return StoredField(change.category, "e", cipher.encrypt(change.category, change.value))


def register(
    ctx: Context,
    who: Principal,
    fields: Mapping[str, str],
    *,
    age_claim: int | None = None,
    language: str | None = None,
) -> SubjectView:
    """Register a new subject with its fields; returns it as its reader would see it.

    A birth date (or, without one, an age claim) below the minimum age marks the subject as
    a minor: consent-based purposes then need a guardian's consent first.
    """
    who.require("subjects.write")
    if not fields:
        raise InvalidInput("a subject needs at least one field (e.g. an email address)")
    tenant = who.tenant_id
    language = check_language(ctx, language)
    changes = check_changes(ctx.declarations, fields, today=_today(ctx), creating=True)
    birth = next((c.value for c in changes if c.category == BIRTH_DATE_CATEGORY), None)
    standing = consent.standing_at_registration(ctx, birth, age_claim)
    subject_id = ctx.new_id()
    dek, wrapped = ctx.crypto.new_key(tenant, subject_id)
    cipher = ctx.crypto.cipher(dek, tenant, subject_id)
    stored = [_stored(ctx, cipher, c) for c in changes]
    lookups = [
        (c.lookup, ctx.crypto.index(tenant, c.lookup, c.normalized))
        for c in changes
        if c.lookup is not None and c.normalized is not None
    ]
    now = ctx.clock()
    record = SubjectRecord(subject_id, tenant, ACTIVE, now, now, language)
    with ctx.uow() as uow:
        stopped.refuse_new_data(uow, tenant)
        try:
            uow.subjects.import_many(
                [record],
                [(subject_id, f) for f in stored],
                [(kind, digest, subject_id) for kind, digest in lookups],
                now,
            )
        except Conflict:
            kinds = sorted({kind for kind, _ in lookups})
            raise Conflict(
                f"another subject of this tenant already has this {' or '.join(kinds)}; "
                "look it up instead of registering it again",
                details={"identity": kinds},
            ) from None
        if standing is not None:
            uow.consent.save_standing(tenant, subject_id, standing)
        uow.audit.append(
            AuditEvent(
                "subject.create", who.actor, tenant, subject_id, [c.category for c in changes]
            ),
            now,
        )
        ctx.keys.put(wrapped, now)
        uow.commit()
    if ctx.decisions is not None:  # it may be remembered as unknown
        ctx.decisions.invalidate(tenant, subject_id)
    return _view(record, changes)


def check_language(ctx: Context, language: str | None) -> str | None:
    """A subject's language must be one the declarations list (None: the default one)."""
    if language is None:
        return None
    languages = tuple(getattr(ctx.declarations, "languages", ()) or ("en",))
    if language not in languages:
        raise InvalidInput(
            f"language {language!r} is not declared; use one of {', '.join(languages)}",
            details={"language": language},
        )
    return language


def set_language(ctx: Context, who: Principal, subject_id: str, language: str | None) -> None:
    """Record the language the subject is written to in (None: the default language)."""
    who.require("subjects.write")
    language = check_language(ctx, language)
    tenant = who.tenant_id
    with ctx.uow() as uow:
        record = uow.subjects.get(tenant, subject_id)
        if record is None:
            raise _not_found(subject_id)
        uow.subjects.set_language(tenant, subject_id, language)
        details = {"language": language or "default"}
        uow.audit.append(
            AuditEvent("subject.language", who.actor, tenant, subject_id, (), details),
            ctx.clock(),
        )
        uow.commit()


def _view(record: SubjectRecord, changes: Sequence[FieldChange]) -> SubjectView:
    values = {c.category: c.value for c in changes if c.storage == "encrypt" and c.value}
    hashed = tuple(sorted(c.category for c in changes if c.storage == "hash"))
    return SubjectView(
        record.id,
        record.tenant_id,
        record.status,
        record.created_at,
        record.updated_at,
        values,
        hashed,
        record.language,
    )


def _decrypt(ctx: Context, record: SubjectRecord, stored: list[StoredField]) -> SubjectView:
    """Decrypt a subject's fields; an erased or shredded subject shows as erased."""
    if record.status == ERASED:
        return SubjectView(
            record.id, record.tenant_id, ERASED, record.created_at, record.updated_at
        )
    key = ctx.keys.get(record.id)
    if key is None:  # the key was shredded (e.g. the database was restored from a backup)
        return SubjectView(
            record.id, record.tenant_id, ERASED, record.created_at, record.updated_at
        )
    cipher = ctx.crypto.cipher(ctx.crypto.unwrap(key), record.tenant_id, record.id)
    values = {f.category: cipher.decrypt(f.category, f.value) for f in stored if f.kind == "e"}
    hashed = tuple(sorted(f.category for f in stored if f.kind == "h"))
    return SubjectView(
        record.id,
        record.tenant_id,
        record.status,
        record.created_at,
        record.updated_at,
        values,
        hashed,
        record.language,
    )


def read(
    ctx: Context, who: Principal, subject_id: str, *, action: str = "subject.read"
) -> SubjectView:
    """A subject's decrypted fields; audited as a read of the field names returned."""
    who.require("subjects.read")
    with ctx.uow() as uow:
        view = _read_in(ctx, uow, who, subject_id, action)
        uow.commit()
    return view


def _read_in(
    ctx: Context, uow: AbstractUnitOfWork, who: Principal, subject_id: str, action: str
) -> SubjectView:
    tenant = who.tenant_id
    record = uow.subjects.get(tenant, subject_id)
    if record is None:
        raise _not_found(subject_id)
    view = _decrypt(ctx, record, uow.subjects.fields(tenant, subject_id))
    names = [*view.fields, *view.hashed]
    details = {"status": view.status} if view.status == ERASED else {}
    uow.audit.append(AuditEvent(action, who.actor, tenant, subject_id, names, details), ctx.clock())
    return view


_LOOKUP_CATEGORY = {"email": identities.EMAIL_CATEGORY, "phone": identities.PHONE_CATEGORY}


def find(ctx: Context, who: Principal, kind: str, value: str) -> SubjectView:
    """Look a subject up by email or phone through the blind index, then read it."""
    who.require("subjects.read")
    category = _LOOKUP_CATEGORY.get(kind)
    if category is None:
        raise InvalidInput(f"cannot look subjects up by {kind!r}; use email or phone")
    normalized = identities.normalize(category, value, ctx.declarations.default_phone_region)
    digest = ctx.crypto.index(who.tenant_id, kind, normalized)
    with ctx.uow() as uow:
        subject_id = uow.subjects.find(who.tenant_id, kind, digest)
        if subject_id is None:
            uow.audit.append(
                AuditEvent(
                    "subject.find", who.actor, who.tenant_id, None, [category], {"found": False}
                ),
                ctx.clock(),
            )
            uow.commit()
            raise NotFound(f"no subject in this tenant has this {kind}", details={"identity": kind})
        view = _read_in(ctx, uow, who, subject_id, "subject.find")
        uow.commit()
    return view


def update(
    ctx: Context,
    who: Principal,
    subject_id: str,
    fields: Mapping[str, str | None],
    *,
    activity: bool = True,
) -> SubjectView:
    """Correct (rectify) fields; a None value removes the field.

    ``activity=False`` (retention removing expired fields) leaves the subject's time of last
    change alone: retention periods counted from ``last_activity`` or ``account_closed``
    read it, and removing what expired is not the subject's activity.
    """
    who.require("subjects.write")
    if not fields:
        raise InvalidInput("nothing to change; give at least one field")
    tenant = who.tenant_id
    changes = check_changes(ctx.declarations, fields, today=_today(ctx), creating=False)
    key = ctx.keys.get(subject_id)
    hashed = {
        c.category: _stored(ctx, _NO_CIPHER, c)
        for c in changes
        if c.storage == "hash" and c.value is not None
    }
    now = ctx.clock()
    with ctx.uow() as uow:
        record = uow.subjects.get(tenant, subject_id)
        if record is None:
            raise _not_found(subject_id)
        if record.status == ERASED or key is None or key.tenant_id != tenant:
            raise SubjectErased(
                f"subject {subject_id} was erased; its data cannot be changed",
                details={"subject_id": subject_id},
            )
        cipher = ctx.crypto.cipher(ctx.crypto.unwrap(key), tenant, subject_id)
        removed = [c.category for c in changes if c.value is None]
        stored = [
            hashed.get(c.category) or _stored(ctx, cipher, c)
            for c in changes
            if c.value is not None
        ]
        uow.subjects.delete_fields(tenant, subject_id, removed)
        uow.subjects.put_fields(tenant, subject_id, stored, now)
        for change in changes:
            if change.lookup is None and change.value is not None:
                continue
            kind = change.lookup or identities.kind_of(change.category)
            uow.subjects.remove_lookups(tenant, subject_id, [kind])
            if change.lookup is not None and change.normalized is not None:
                digest = ctx.crypto.index(tenant, change.lookup, change.normalized)
                uow.subjects.add_lookup(tenant, change.lookup, digest, subject_id)
        if activity:
            uow.subjects.touch(tenant, subject_id, now)
        birth = next((c for c in changes if c.category == BIRTH_DATE_CATEGORY), None)
        if birth is not None and birth.value is not None:  # a removal keeps what is known
            kept = uow.consent.standing(tenant, subject_id) or Standing()
            fresh = consent.standing_at_registration(ctx, birth.value, None)
            minor = fresh.minor_until if fresh else None
            uow.consent.save_standing(tenant, subject_id, replace(kept, minor_until=minor))
            uow.consent.note_change(tenant, subject_id, now)
        uow.audit.append(
            AuditEvent(
                "subject.update",
                who.actor,
                tenant,
                subject_id,
                [c.category for c in changes],
                {"removed": sorted(removed)},
            ),
            now,
        )
        view = _decrypt(
            ctx,
            SubjectRecord(
                subject_id,
                tenant,
                record.status,
                record.created_at,
                now if activity else record.updated_at,
            ),
            uow.subjects.fields(tenant, subject_id),
        )
        uow.commit()
    if ctx.decisions is not None:
        ctx.decisions.invalidate(tenant, subject_id)
    return view


class _NoCipher(AbstractCipher):
    def encrypt(self, field: str, value: str) -> bytes:
        raise AssertionError("hashed fields are never encrypted")

    def decrypt(self, field: str, blob: bytes) -> str:
        raise AssertionError("hashed fields are never decrypted")


_NO_CIPHER = _NoCipher()


def pages(ctx: Context, tenant: str, batch: int) -> Iterator[list[tuple[SubjectRecord, list[str]]]]:
    """Every subject of a tenant with its field names, ``batch`` at a time in registration
    order, each page read in a short transaction of its own (nothing decrypted)."""
    after: tuple[int, str] | None = None
    while True:
        with ctx.uow(read_only=True) as uow:
            page = uow.subjects.page(tenant, after, batch)
        if not page:
            return
        after = (page[-1][0].created_at, page[-1][0].id)
        yield page


def list_page(ctx: Context, who: Principal, cursor: str | None, limit: int) -> SubjectPage:
    """Subjects of the tenant in registration order: ids, status and field names only."""
    who.require("subjects.list")
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    after = _parse_cursor(cursor)
    with ctx.uow() as uow:
        rows = uow.subjects.page(who.tenant_id, after, limit)
        uow.audit.append(
            AuditEvent("subject.list", who.actor, who.tenant_id, None, (), {"count": len(rows)}),
            ctx.clock(),
        )
        uow.commit()
    items: list[dict[str, object]] = []
    for record, names in rows:
        view = SubjectView(
            record.id, record.tenant_id, record.status, record.created_at, record.updated_at
        )
        data = view.as_dict()
        data.pop("fields")
        data.pop("hashed_fields")
        data.pop("message", None)
        data["field_names"] = names
        items.append(data)
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1][0]
        next_cursor = f"{last.created_at}.{last.id}"
    return SubjectPage(items, next_cursor)


def _parse_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    created, _, sid = cursor.partition(".")
    try:
        return int(created), sid
    except ValueError:
        raise InvalidInput("malformed cursor; pass back the next_cursor value unchanged") from None


def erase(ctx: Context, who: Principal, subject_id: str, reason: str) -> SubjectView:
    """Crypto-shred a subject: destroy its data key, delete its fields and lookups."""
    who.require("subjects.erase")
    tenant = who.tenant_id
    now = ctx.clock()
    with ctx.uow() as uow:
        record = uow.subjects.get(tenant, subject_id)
        if record is None:
            raise _not_found(subject_id)
        names = [f.category for f in uow.subjects.fields(tenant, subject_id)]
        uow.subjects.delete_fields(tenant, subject_id, None)
        uow.subjects.remove_lookups(tenant, subject_id, None)
        uow.subjects.set_status(tenant, subject_id, ERASED, now)
        uow.audit.append(
            AuditEvent(
                "subject.erase", who.actor, tenant, subject_id, names, {"reason": reason[:200]}
            ),
            now,
        )
        uow.consent.note_change(tenant, subject_id, now)
        ctx.keys.delete(subject_id)  # the point of no return: every copy becomes unreadable
        uow.commit()
    if ctx.decisions is not None:
        ctx.decisions.invalidate(tenant, subject_id)
    return SubjectView(subject_id, tenant, ERASED, record.created_at, now)


def verify_secret(
    ctx: Context, who: Principal, subject_id: str, category: str, secret: str
) -> bool:
    """Check a verify-only field (argon2id) without ever reading it."""
    who.require("subjects.read")
    tenant = who.tenant_id
    with ctx.uow(read_only=True) as uow:
        record = uow.subjects.get(tenant, subject_id)
        if record is None:
            raise _not_found(subject_id)
        stored = {f.category: f for f in uow.subjects.fields(tenant, subject_id)}
    if record.status == ERASED or ctx.keys.get(subject_id) is None:
        # shredded: e.g. a main-database backup from before the erasure was restored
        raise SubjectErased(
            f"subject {subject_id} was erased; nothing can be verified",
            details={"subject_id": subject_id},
        )
    field = stored.get(category)
    if field is None or field.kind != "h":
        raise InvalidInput(
            f"{category} is not a hashed field of this subject; only `storage: hash` "
            "categories can be verified",
            details={"category": category},
        )
    matched = ctx.crypto.verify_secret(field.value.decode(), secret)
    with ctx.uow() as uow:
        uow.audit.append(
            AuditEvent(
                "subject.verify", who.actor, tenant, subject_id, [category], {"matched": matched}
            ),
            ctx.clock(),
        )
        uow.commit()
    return matched
