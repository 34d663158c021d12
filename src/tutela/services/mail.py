"""The mail outbox: messages are queued in the same transaction as the change they announce,
encrypted (recipients and bodies are personal data), and delivered after commit.

Delivery leases each message for five minutes, sends it outside any transaction, then marks
it sent (its content is dropped) or schedules a retry with back-off; after the last attempt
it is marked failed. A crashed sender's lease simply runs out and the message is retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tutela.domain.errors import IntegrityError
from tutela.services.context import Context
from tutela.services.ports import AbstractMailer, AbstractUnitOfWork, MailError

LEASE_MICROS = 5 * 60 * 1_000_000
BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int
    retrying: int
    failed: int


def _aad(tenant_id: str, kind: str) -> bytes:
    return f"tutela:outbox:{tenant_id}:{kind}".encode()


def queue(
    ctx: Context,
    uow: AbstractUnitOfWork,
    tenant_id: str,
    kind: str,
    to: str,
    subject: str,
    body: str,
    now: int,
    *,
    key: str | None = None,
) -> int | None:
    """Queue one message inside an open unit of work.

    ``key`` makes queuing idempotent: a message whose key was queued before (sent or not)
    is not queued again and ``None`` is returned. Keys name the occasion, never personal
    values, e.g. ``policy:7:default:<subject id>``.
    """
    message = json.dumps({"kind": kind, "to": to, "subject": subject, "body": body})
    blob = ctx.crypto.seal_blob("outbox", _aad(tenant_id, kind), message.encode())
    return uow.requests.queue_mail(tenant_id, kind, blob, now, key)


def deliver(ctx: Context, mailer: AbstractMailer, *, limit: int = 50) -> DeliveryReport:
    """Send what is due; safe to run from several processes at once."""
    now = ctx.clock()
    with ctx.uow() as uow:
        claimed = uow.requests.claim_mail(now, now + LEASE_MICROS, limit)
        uow.commit()
    sent = retrying = failed = 0
    for mail_id, tenant_id, kind, blob, attempts in claimed:
        error: str | None = None
        retry_at: int | None = None
        try:
            message = json.loads(ctx.crypto.open_blob("outbox", _aad(tenant_id, kind), blob))
            mailer.send(message["to"], message["subject"], message["body"])
        except MailError as exc:
            error = str(exc)
            if not exc.permanent and attempts < len(BACKOFF_SECONDS):
                retry_at = ctx.clock() + BACKOFF_SECONDS[attempts] * 1_000_000
        except (IntegrityError, ValueError, KeyError):
            error = f"the queued {kind} message cannot be read"
        with ctx.uow() as uow:
            uow.requests.mail_done(mail_id, ctx.clock(), error, retry_at)
            uow.commit()
        if error is None:
            sent += 1
        elif retry_at is not None:
            retrying += 1
        else:
            failed += 1
    return DeliveryReport(sent, retrying, failed)
