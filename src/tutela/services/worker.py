"""The worker: scheduled jobs (retention sweeps, mail outbox, expired packages, overdue
requests, follow-ups).

Each periodic task has a row in ``schedules``; a worker claims the tasks that are due with
``FOR UPDATE SKIP LOCKED`` and moves their next run forward in the same transaction, so of
several workers on PostgreSQL exactly one runs each slot. Follow-up jobs are claimed the same
way with a lease: a worker that dies mid-job leaves it to be taken again when the lease ends.
A failing task is recorded and retried at its next slot; it never stops the worker.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tutela.domain.access import Principal, operator
from tutela.domain.audit import SYSTEM_CHAIN, AuditEvent
from tutela.domain.errors import TutelaError
from tutela.services import holds, mail, vault
from tutela.services import requests as intake
from tutela.services.context import Context

log = logging.getLogger("tutela.worker")

SECOND = 1_000_000
JOB_LEASE = 10 * 60 * SECOND
JOB_ATTEMPTS = 5

Task = Callable[[Context], dict[str, Any]]


@dataclass
class Worker:
    ctx: Context
    intervals: dict[str, int] = field(default_factory=lambda: dict(INTERVALS))
    ran: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def run_once(self) -> list[tuple[str, dict[str, Any]]]:
        """Run every task that is due now (claimed by this worker alone); returns results."""
        now = self.ctx.clock()
        with self.ctx.uow() as uow:
            for name in self.intervals:
                uow.lifecycle.ensure_schedule(name, now)
            due = uow.lifecycle.claim_due(now, self.intervals)
            uow.commit()
        results: list[tuple[str, dict[str, Any]]] = []
        for name in sorted(due, key=list(TASKS).index):  # mail last: it sends what others queue
            try:
                result = TASKS[name](self.ctx)
            except TutelaError as exc:
                result = {"error": exc.code, "message": exc.message}
            except Exception as exc:  # a task never stops the worker
                log.exception("task %s failed", name)
                result = {"error": type(exc).__name__}
            with self.ctx.uow() as uow:
                uow.lifecycle.record_result(name, json.dumps(result, default=str))
                uow.commit()
            results.append((name, result))
        self.ran.extend(results)
        return results

    def run_forever(self, stop: threading.Event, tick: float = 1.0) -> None:
        while not stop.is_set():
            self.run_once()
            stop.wait(tick)


# -- tasks --------------------------------------------------------------------------------


def apply_policies(ctx: Context) -> dict[str, Any]:
    """Put in force the policy versions whose effective date has come."""
    from tutela.services import policy

    return {"in_force": policy.apply_due(ctx)}


def deliver_mail(ctx: Context) -> dict[str, Any]:
    if ctx.mailer is None:
        return {"skipped": "no SMTP server configured"}
    report = mail.deliver(ctx, ctx.mailer, limit=200)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}


def expire_packages(ctx: Context) -> dict[str, Any]:
    """Delete expired access packages; prune the change feed (read within seconds by every
    process) and rate-limit marks (read for an hour)."""
    now = ctx.clock()
    with ctx.uow() as uow:
        pruned = uow.lifecycle.prune(now - 3600 * SECOND, now - 86400 * SECOND)
        deleted = uow.requests.delete_expired_packages(now)
        if deleted:
            uow.audit.append(
                AuditEvent(
                    "packages.expired", "worker", SYSTEM_CHAIN, None, (), {"deleted": deleted}
                ),
                now,
            )
        uow.commit()
    return {"deleted": deleted, "pruned": pruned}


def escalate_overdue(ctx: Context) -> dict[str, Any]:
    """Tell the privacy officer of every tenant which requests are overdue or nearly due."""
    with ctx.uow(read_only=True) as uow:
        tenant_ids = [t for t, _name, _at in uow.tenants.list()]
    organization = getattr(ctx.declarations, "organization", None)
    dpo = getattr(organization, "dpo", None)
    recipient = str(getattr(dpo, "email", None) or getattr(organization, "contact", "") or "")
    counts: dict[str, int] = {}
    now = ctx.clock()
    for tenant_id in tenant_ids:
        who = _worker(tenant_id)
        urgent = [
            r
            for r in intake.queue(
                ctx, who, states=["received", "verifying", "verified", "in_progress"], limit=1000
            )
            if r["urgency"] in ("overdue", "due_soon")
        ]
        if not urgent:
            continue
        counts[tenant_id] = len(urgent)
        lines = [f"- {r['id']} {r['type']} due {r['due']} ({r['urgency']})" for r in urgent]
        with ctx.uow() as uow:
            if recipient:
                mail.queue(
                    ctx,
                    uow,
                    tenant_id,
                    "request.escalation",
                    recipient,
                    f"{len(urgent)} data-subject request(s) need attention ({tenant_id})",
                    "Requests that are overdue or nearly due:\n" + "\n".join(lines) + "\n",
                    now,
                )
            uow.audit.append(
                AuditEvent(
                    "requests.escalated",
                    "worker",
                    tenant_id,
                    None,
                    (),
                    {"requests": [r["id"] for r in urgent]},
                ),
                now,
            )
            uow.commit()
    return {"escalated": counts}


def run_jobs(ctx: Context) -> dict[str, Any]:
    """Follow-up jobs queued by other work (e.g. erasure after a consent withdrawal)."""
    now = ctx.clock()
    with ctx.uow() as uow:
        claimed = uow.lifecycle.claim_jobs(now, now + JOB_LEASE, 50)
        uow.commit()
    done = failed = 0
    for job in claimed:
        handler = JOBS.get(job["kind"])
        state, retry_at = "done", None
        try:
            if handler is None:
                raise TutelaError(f"no handler for job kind {job['kind']}")
            handler(ctx, job)
            done += 1
        except TutelaError as exc:
            log.warning("job %s (%s) failed: %s", job["id"], job["kind"], exc.code)
            if job["attempts"] + 1 < JOB_ATTEMPTS:
                state, retry_at = "queued", ctx.clock() + 60 * SECOND * (job["attempts"] + 1)
            else:
                state = "failed"
                failed += 1
        with ctx.uow() as uow:
            uow.lifecycle.finish_job(job["id"], state, retry_at)
            uow.commit()
    return {"done": done, "failed": failed}


def resume_request(ctx: Context, job: dict[str, Any]) -> None:
    """Every application endpoint has posted its result: finish the request (a request
    someone finished or closed meanwhile is left alone)."""
    from tutela.services import request_runner

    request_id = json.loads(job["payload"])["request_id"]
    who = _worker(job["tenant_id"])
    if intake.show(ctx, who, request_id)["state"] == "in_progress":
        request_runner.run(ctx, who, request_id)


def erase_exclusive_data(ctx: Context, job: dict[str, Any]) -> None:
    """After a withdrawal: remove the vault fields held only for the withdrawn purpose
    (unless another purpose still needs them, or a legal hold keeps them)."""
    payload = json.loads(job["payload"])
    if payload.get("then") != "erase_exclusive" or not job["subject_id"]:
        return
    purpose = payload["purpose"]
    tenant_id, subject_id = job["tenant_id"], job["subject_id"]
    purposes = getattr(ctx.declarations, "purposes", ())
    withdrawn = next((p for p in purposes if p.key == purpose), None)
    if withdrawn is None:
        return
    others = {c for p in purposes if p.key != purpose for c in p.categories}
    exclusive = [c for c in withdrawn.categories if c not in others]
    with ctx.uow(read_only=True) as uow:
        present = {f.category for f in uow.subjects.fields(tenant_id, subject_id)}
        kept = holds.in_force(ctx, uow, tenant_id, [subject_id])
    removable = [
        c for c in exclusive if c in present and holds.blocking(kept, subject_id, c) is None
    ]
    if removable:
        vault.update(ctx, _worker(tenant_id), subject_id, dict.fromkeys(removable))


def sweep_retention(ctx: Context) -> dict[str, Any]:
    """The daily retention sweep of every tenant's vault, and of the connected datasets with
    the default tenant's (holds respected, evidence audited)."""
    from tutela.services import retention

    with ctx.uow(read_only=True) as uow:
        tenant_ids = [t for t, _name, _at in uow.tenants.list()]
    swept: dict[str, int] = {}
    rows: dict[str, int] = {}
    for tenant_id in tenant_ids:
        data = retention.run(ctx, _worker(tenant_id), apply=True)
        removed = sum(int(d["fields"]) for d in data["due"])
        if removed:
            swept[tenant_id] = removed
        for line in data["datasets"]:
            where = f"{line['dataset']}.{line['collection']}"
            rows[where] = rows.get(where, 0) + int(line["deleted"]) + int(line["anonymized"])
    return {"fields_removed": swept, "rows_removed": rows}


def _portal() -> Any:
    from tutela.services import portal

    return portal


def _worker(tenant_id: str) -> Principal:
    return operator(tenant_id, "worker")


TASKS: dict[str, Task] = {
    "policy": apply_policies,
    "jobs": run_jobs,
    "retention": sweep_retention,
    "packages": expire_packages,
    "overdue": escalate_overdue,
    "mail": deliver_mail,
}
INTERVALS: dict[str, int] = {
    "policy": 60 * SECOND,
    "mail": 30 * SECOND,
    "jobs": 10 * SECOND,
    "packages": 3600 * SECOND,
    "overdue": 86400 * SECOND,
    "retention": 86400 * SECOND,
}
JOBS: dict[str, Callable[[Context, dict[str, Any]], None]] = {
    "consent.withdrawn": erase_exclusive_data,
    "request.cooling_off_ended": lambda ctx, job: _portal().cooling_off_ended(ctx, job),
    "request.resume": resume_request,
}
