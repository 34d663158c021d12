"""Batch registration: many subjects from rows of fields, checked in full before any write.

The first pass validates every row and every identity (against the file itself and the
tenant's existing subjects) and reports all problems with their row numbers; nothing is
written unless the whole input is clean. The second pass writes in batches, one transaction
each, with one audit entry per subject.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Conflict, InvalidInput, TutelaError
from tutela.domain.subjects import ACTIVE, FieldChange, check_changes
from tutela.services import stopped
from tutela.services.context import Context
from tutela.services.ports import StoredField, SubjectRecord, WrappedKey
from tutela.services.vault import _stored, _today

Progress = Callable[[int], None]
MAX_REPORTED = 50


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    ids: list[str]


def _check_rows(
    ctx: Context, who: Principal, rows: Iterable[Mapping[str, str]]
) -> list[list[FieldChange]]:
    today = _today(ctx)
    checked: list[list[FieldChange]] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows, start=1):
        fields = {k: v for k, v in row.items() if v not in (None, "")}
        try:
            if not fields:
                raise InvalidInput("the row has no fields")
            changes = check_changes(ctx.declarations, fields, today=today, creating=True)
        except TutelaError as exc:
            problems.append(f"row {number}: {exc.message}")
            checked.append([])
            continue
        for c in changes:
            if c.lookup and c.normalized:
                first = seen.setdefault((c.lookup, c.normalized), number)
                if first != number:
                    problems.append(f"row {number}: same {c.lookup} as row {first}")
        checked.append(changes)
    if not checked:
        raise InvalidInput("the input holds no rows")
    digests: dict[tuple[str, bytes], int] = {
        (kind, ctx.crypto.index(who.tenant_id, kind, value)): number
        for (kind, value), number in seen.items()
    }
    with ctx.uow(read_only=True) as uow:
        for kind in {k for k, _ in digests}:
            wanted = [d for k, d in digests if k == kind]
            for digest in uow.subjects.existing(who.tenant_id, kind, wanted):
                problems.append(f"row {digests[(kind, digest)]}: this {kind} is already registered")
    if problems:
        shown = sorted(problems, key=_row_number)[:MAX_REPORTED]
        more = len(problems) - len(shown)
        raise InvalidInput(
            f"{len(problems)} problem(s) in the input, nothing was imported: "
            + "; ".join(shown)
            + (f"; … and {more} more" if more else ""),
            details={"problems": shown},
        )
    return checked


def _row_number(problem: str) -> int:
    return int(problem.split(":", 1)[0].removeprefix("row "))


def import_subjects(
    ctx: Context,
    who: Principal,
    rows: Iterable[Mapping[str, str]],
    *,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> ImportResult:
    who.require("subjects.write")
    tenant = who.tenant_id
    checked = _check_rows(ctx, who, rows)
    ids: list[str] = []
    for start in range(0, len(checked), batch_size):
        batch = checked[start : start + batch_size]
        records: list[SubjectRecord] = []
        fields: list[tuple[str, StoredField]] = []
        lookups: list[tuple[str, bytes, str]] = []
        keys: list[WrappedKey] = []
        events: list[AuditEvent] = []
        now = ctx.clock()
        for changes in batch:
            sid = ctx.new_id()
            dek, wrapped = ctx.crypto.new_key(tenant, sid)
            cipher = ctx.crypto.cipher(dek, tenant, sid)
            records.append(SubjectRecord(sid, tenant, ACTIVE, now, now))
            keys.append(wrapped)
            for c in changes:
                fields.append((sid, _stored(ctx, cipher, c)))
                if c.lookup and c.normalized:
                    lookups.append(
                        (c.lookup, ctx.crypto.index(tenant, c.lookup, c.normalized), sid)
                    )
            events.append(
                AuditEvent(
                    "subject.create",
                    who.actor,
                    tenant,
                    sid,
                    [c.category for c in changes],
                    {"via": "import"},
                )
            )
        with ctx.uow() as uow:
            stopped.refuse_new_data(uow, tenant)
            try:
                uow.subjects.import_many(records, fields, lookups, now)
            except Conflict as exc:
                raise Conflict(
                    f"{exc.message}; {len(ids)} subject(s) of earlier batches were imported",
                    details={"imported": len(ids)},
                ) from None
            uow.audit.append_many(events, now)
            ctx.keys.put_many(keys, now)
            uow.commit()
        ids.extend(r.id for r in records)
        if progress is not None:
            progress(len(batch))
    return ImportResult(len(ids), ids)
