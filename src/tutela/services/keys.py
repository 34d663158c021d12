"""Key-encryption key rotation and retirement.

Rotation adds a KEK version to the key ring, makes it active, then re-wraps every subject
data key under it in batches. Field ciphertexts are never touched. It runs online: readers
unwrap with whichever version a key is at, and each re-wrap is conditional on the key still
being at the version it was read at, so a concurrent erasure or rotation is never undone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tutela.domain.access import Principal
from tutela.domain.audit import SYSTEM_CHAIN, AuditEvent
from tutela.domain.errors import Conflict
from tutela.services.context import Context

Progress = Callable[[int, int], None]  # (done in this step, total)


@dataclass(frozen=True, slots=True)
class RotationResult:
    version: int
    rewrapped: int
    remaining: int

    def as_dict(self) -> dict[str, int]:
        return {"version": self.version, "rewrapped": self.rewrapped, "remaining": self.remaining}


def status(ctx: Context) -> dict[str, object]:
    counts = ctx.keys.count_by_version()
    return {
        "active": ctx.crypto.active_version,
        "versions": [
            {"version": v, "data_keys": counts.get(v, 0), "active": v == ctx.crypto.active_version}
            for v in sorted(set(ctx.crypto.versions) | set(counts))
        ],
    }


def rewrap(
    ctx: Context, who: Principal, *, batch: int = 500, progress: Progress | None = None
) -> RotationResult:
    """Re-wrap every data key not yet under the active version."""
    who.require("keys.manage")
    ctx.crypto.refresh()
    target = ctx.crypto.active_version
    total = sum(n for v, n in ctx.keys.count_by_version().items() if v != target)
    done = 0
    after = ""
    while True:
        keys = ctx.keys.not_at_version(target, after, batch)
        if not keys:
            break
        pairs = [
            (k.version, ctx.crypto.wrap(k.tenant_id, k.subject_id, ctx.crypto.unwrap(k)))
            for k in keys
        ]
        done += ctx.keys.rewrap_many(pairs)
        after = keys[-1].subject_id
        if progress is not None:
            progress(len(keys), total)
    remaining = sum(n for v, n in ctx.keys.count_by_version().items() if v != target)
    with ctx.uow() as uow:
        uow.audit.append(
            AuditEvent(
                "keys.rewrap",
                who.actor,
                SYSTEM_CHAIN,
                None,
                (),
                {"version": target, "rewrapped": done, "remaining": remaining},
            ),
            ctx.clock(),
        )
        uow.commit()
    return RotationResult(target, done, remaining)


def rotate(
    ctx: Context, who: Principal, *, batch: int = 500, progress: Progress | None = None
) -> RotationResult:
    """Create a new KEK version, make it active and re-wrap every data key under it."""
    who.require("keys.manage")
    version = ctx.crypto.rotate()
    with ctx.uow() as uow:
        uow.audit.append(
            AuditEvent("keys.rotate", who.actor, SYSTEM_CHAIN, None, (), {"version": version}),
            ctx.clock(),
        )
        uow.commit()
    return rewrap(ctx, who, batch=batch, progress=progress)


def retire(ctx: Context, who: Principal, version: int) -> None:
    """Remove a KEK version from the key ring once no data key is wrapped under it."""
    who.require("keys.manage")
    ctx.crypto.refresh()
    left = ctx.keys.count_by_version().get(version, 0)
    if left:
        raise Conflict(
            f"{left} data key(s) are still wrapped under version {version}; "
            "run `tutela keys rewrap` first",
            details={"version": version, "data_keys": left},
        )
    ctx.crypto.retire(version)
    with ctx.uow() as uow:
        uow.audit.append(
            AuditEvent("keys.retire", who.actor, SYSTEM_CHAIN, None, (), {"version": version}),
            ctx.clock(),
        )
        uow.commit()


@dataclass
class ReconcileResult:
    tenant: str
    checked: int = 0
    shredded: list[str] = field(default_factory=list)  # live in the database, key gone
    revived: list[str] = field(default_factory=list)  # erased in the database, key back
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "subjects_checked": self.checked,
            "shredded": len(self.shredded),
            "subjects": self.shredded,
            "keys_revived": self.revived,
            "applied": self.applied,
        }


def reconcile(ctx: Context, who: Principal, *, apply: bool, batch: int = 500) -> ReconcileResult:
    """Make the main database and the key store agree again after one of them was restored
    from a backup.

    * A subject the main database holds as live whose data key is gone was erased after the
      restored database backup was taken: with ``apply`` its erasure is finished (the
      unreadable ciphertexts, hashed fields and blind-index lookups are deleted, it is marked
      erased and the erasure audited again, since its audit entry was lost with the restore).
    * A subject the main database holds as erased whose data key is back was erased after the
      restored key-store backup was taken: with ``apply`` its key is deleted again.

    Refuses to apply when not one live subject has its key: the key store is then more likely
    the wrong one (``TUTELA_KEYSTORE_URL``) than every subject erased.
    """
    from tutela.domain.subjects import ERASED
    from tutela.services import vault

    who.require("subjects.erase")
    result = ReconcileResult(who.tenant_id)
    after: tuple[int, str] | None = None
    while True:
        with ctx.uow(read_only=True) as uow:
            page = [r for r, _names in uow.subjects.page(who.tenant_id, after, batch)]
        if not page:
            break
        after = (page[-1].created_at, page[-1].id)
        present = ctx.keys.present([r.id for r in page])
        live = [r.id for r in page if r.status != ERASED]
        result.checked += len(live)
        result.shredded.extend(sid for sid in live if sid not in present)
        result.revived.extend(r.id for r in page if r.status == ERASED and r.id in present)
    if apply and result.shredded and len(result.shredded) == result.checked:
        raise Conflict(
            f"not one of the {result.checked} subject(s) of tenant {who.tenant_id} has its data "
            "key: check that TUTELA_KEYSTORE_URL names the right key store before erasing them",
            details={"tenant": who.tenant_id, "subjects": result.checked},
        )
    if not apply:
        return result
    for sid in result.shredded:
        vault.erase(ctx, who, sid, "data key already shredded (database restored)")
    for sid in result.revived:
        ctx.keys.delete(sid)
    with ctx.uow() as uow:
        uow.audit.append(
            AuditEvent(
                "keys.reconcile",
                who.actor,
                who.tenant_id,
                None,
                (),
                {
                    "checked": result.checked,
                    "erased": len(result.shredded),
                    "keys_deleted": len(result.revived),
                },
            ),
            ctx.clock(),
        )
        uow.commit()
    result.applied = True
    return result
