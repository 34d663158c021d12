"""Requests handed to application endpoints, and the signed callbacks that answer them.

For a store Tutela cannot reach, a request's dataset step delivers the request to the
application's endpoint (an :class:`AbstractHookConnector`) and waits for the application to
post the result to ``{public_url}/v1/requests/{request_id}/callbacks/{dataset}``, both
signed with the endpoint's shared secret (the protocol: docs/connectors.md).

The messages and their signatures are in ``hook_messages.py``. What happened is kept in the
request's checkpoint under ``hooks``, one entry per endpoint::

    {"status": "sending" | "sent" | "failed" | "received", "attempts": n, "sent_at": µs,
     "error": text or null, "received_at": µs, "result": {…} or "sealed": base64}

A request is delivered at least once. A later run delivers it again only when the last
delivery failed, the application reported an error, or a run was cut off while delivering
(still ``sending``). An access result holds personal values: it is stored only sealed;
erasure and rectification results (counts, what was kept and why) are stored as they are.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from tutela.datasets.ports import AbstractHookConnector, DeliveryFailed
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Conflict, InvalidInput, NotFound
from tutela.domain.subjects import iso
from tutela.services import requests as intake
from tutela.services.context import Context
from tutela.services.hook_messages import (
    SIGNATURE_HEADER,
    checked_result,
    parse_callback,
    sign,
    verify,
)
from tutela.services.ports import AbstractUnitOfWork, RequestRecord

__all__ = [
    "CHECKPOINT_KEY",
    "HOOK_TYPES",
    "SIGNATURE_HEADER",
    "Waiting",
    "answers",
    "callback_url",
    "receive",
    "sign",
    "states_of",
    "stored_for_completion",
    "verify",
    "waiting_view",
]

#: where the endpoints' progress is kept in a request's checkpoint
CHECKPOINT_KEY = "hooks"
#: what an endpoint is asked to do, by request type
HOOK_TYPES: dict[str, str] = {
    "access": "access",
    "portability": "access",
    "erasure": "erasure",
    "account_closure": "erasure",
    "rectification": "rectification",
}
#: states after which a run delivers the request again
_DELIVER_AGAIN = frozenset({"sending", "failed"})
_SECOND = 1_000_000


class Waiting(Exception):
    """Endpoints whose result has not arrived yet: the request stays in progress."""

    def __init__(self, datasets: Sequence[str]) -> None:
        super().__init__(f"waiting for {', '.join(datasets)}")
        self.datasets = tuple(datasets)


# -- delivering requests ------------------------------------------------------------------


def callback_url(ctx: Context, request_id: str, dataset: str) -> str:
    return f"{ctx.public_url.rstrip('/')}/v1/requests/{request_id}/callbacks/{dataset}"


def answers(
    ctx: Context,
    who: Principal,
    record: RequestRecord,
    identities: Mapping[str, str],
    changes: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each concerned endpoint's result, by store name, once all of them have arrived.

    Delivers the request to every endpoint that has not had it yet (or whose delivery
    failed) and raises :class:`Waiting` while any result is missing. For a rectification
    only endpoints whose store holds a corrected category are concerned; each gets the
    corrections of its categories.
    """
    targets = _targets(ctx, record, changes or {})
    if not targets:
        return {}
    states = _states(ctx, record)
    for connector, extra in targets:
        state = states.get(connector.name)
        if state is None or state.get("status") in _DELIVER_AGAIN:
            _deliver(ctx, who, record, connector, identities, extra)
    states = _states(ctx, record)
    missing = [c.name for c, _ in targets if states.get(c.name, {}).get("status") != "received"]
    if missing:
        raise Waiting(missing)
    return {c.name: _opened(ctx, record.id, c.name, states[c.name]) for c, _ in targets}


def _targets(
    ctx: Context, record: RequestRecord, changes: Mapping[str, Any]
) -> list[tuple[AbstractHookConnector, dict[str, Any]]]:
    kind = HOOK_TYPES.get(record.type)
    if ctx.hooks is None or kind is None:
        return []
    targets: list[tuple[AbstractHookConnector, dict[str, Any]]] = []
    for connector in ctx.hooks():
        if kind != "rectification":
            targets.append((connector, {}))
            continue
        held = {key: value for key, value in changes.items() if connector.holds(key)}
        if held:
            targets.append((connector, {"changes": held}))
    return targets


def _deliver(
    ctx: Context,
    who: Principal,
    record: RequestRecord,
    connector: AbstractHookConnector,
    identities: Mapping[str, str],
    extra: Mapping[str, Any],
) -> None:
    secret = connector.secret()  # not configured: the run stops here, nothing was sent
    name = connector.name
    sending = _change(
        ctx,
        record,
        name,
        lambda state: {
            "status": "sending",
            "attempts": int((state or {}).get("attempts", 0)) + 1,
            "sent_at": ctx.clock(),
            "error": None,
        },
    )
    payload = {
        "request_id": record.id,
        "type": HOOK_TYPES[record.type],
        "dataset": name,
        "identities": dict(identities),
        **extra,
        "callback_url": callback_url(ctx, record.id, name),
        "deadline": iso(record.due_at),
        "attempt": sending["attempts"],
    }
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        connector.deliver(body, {SIGNATURE_HEADER: sign(secret, body, ctx.clock() // _SECOND)})
    except DeliveryFailed as failure:
        error: str | None = str(failure)[:500]
    else:
        error = None

    def delivered(state: dict[str, Any] | None) -> dict[str, Any] | None:
        if state is None or state.get("status") != "sending":
            return state  # the callback came first
        return {**state, "status": "failed" if error else "sent", "error": error}

    attempt = sending["attempts"]
    note = (
        f"request not delivered to {name} (attempt {attempt}): {error}"
        if error
        else f"request delivered to {name} (attempt {attempt}); waiting for its result"
    )
    _change(
        ctx,
        record,
        name,
        delivered,
        event=(
            who.actor,
            "request.hook_failed" if error else "request.hook_sent",
            note,
            {"dataset": name, "attempt": attempt, **({"error": error} if error else {})},
        ),
    )


#: the worker job that finishes a request once every endpoint has posted its result
RESUME_JOB = "request.resume"


# -- receiving callbacks ------------------------------------------------------------------


def receive(
    ctx: Context, request_id: str, dataset: str, body: bytes, signature: str | None
) -> dict[str, Any]:
    """Store an endpoint's signed result (or its reported error) for a request it was sent.

    Raises :class:`NotFound` for an unknown endpoint or request, :class:`Unauthenticated`
    for a bad signature (nothing is stored), :class:`InvalidInput` for a malformed result,
    and :class:`Conflict` when the request is not waiting for this endpoint.
    """
    connector = next((c for c in (ctx.hooks() if ctx.hooks else []) if c.name == dataset), None)
    if connector is None:
        raise NotFound(f"no application endpoint named {dataset}", details={"dataset": dataset})
    verify(connector.secret(), body, signature, ctx.clock() // _SECOND)
    callback = parse_callback(body)
    if callback.request_id != request_id or callback.dataset != dataset:
        raise InvalidInput(
            "request_id and dataset in the body must match the callback address",
            details={"request_id": request_id, "dataset": dataset},
        )
    now = ctx.clock()
    with ctx.uow() as uow:
        tenant = uow.requests.tenant_of(request_id)
        if tenant is None:
            raise NotFound(f"no request {request_id}", details={"request_id": request_id})
        record = intake._get(uow, tenant, request_id, lock=True)
        checkpoint = _checkpoint(record)
        state = checkpoint.setdefault(CHECKPOINT_KEY, {}).get(dataset)
        _check_waiting(record, state, dataset, callback.type)
        assert state is not None
        if callback.error is not None:
            new = {**state, "status": "failed", "error": f"reported: {callback.error[:500]}"}
            note = f"{dataset} reported an error; the next run sends the request again"
        else:
            new = {
                **state,
                "status": "received",
                "error": None,
                "received_at": now,
                **_stored(ctx, record.id, connector, callback.type, callback.result or {}),
            }
            note = f"{dataset} posted its result"
        checkpoint[CHECKPOINT_KEY][dataset] = new
        uow.requests.save(replace(record, checkpoint=json.dumps(checkpoint), updated_at=now))
        complete = all(s.get("status") == "received" for s in checkpoint[CHECKPOINT_KEY].values())
        if complete:  # the last result is in: the worker finishes the request
            payload = json.dumps({"request_id": record.id})
            uow.consent.enqueue(RESUME_JOB, tenant, record.subject_id or "", payload, now)
        _record_event(
            uow,
            record,
            now,
            (f"endpoint:{dataset}", "request.callback", note, {"dataset": dataset}),
        )
        uow.commit()
    return {
        "request_id": request_id,
        "dataset": dataset,
        "status": new["status"],
        "resumes": complete,
    }


def _check_waiting(
    record: RequestRecord, state: dict[str, Any] | None, dataset: str, kind: str
) -> None:
    if record.state != "in_progress" or state is None:
        why = "no request was sent to it" if state is None else f"the request is {record.state}"
        raise Conflict(
            f"request {record.id} is not waiting for {dataset}: {why}",
            details={"request_id": record.id, "dataset": dataset},
        )
    if state.get("status") == "received":
        raise Conflict(
            f"the result of {dataset} for request {record.id} was received already",
            details={"request_id": record.id, "dataset": dataset},
        )
    if HOOK_TYPES.get(record.type) != kind:
        raise InvalidInput(
            f"request {record.id} asked {dataset} for {HOOK_TYPES.get(record.type)}, not {kind}",
            details={"request_id": record.id, "dataset": dataset},
        )


def _stored(
    ctx: Context,
    request_id: str,
    connector: AbstractHookConnector,
    kind: str,
    result: Mapping[str, Any],
) -> dict[str, Any]:
    """The result to keep: access rows only sealed (personal values), counts in clear."""
    checked = checked_result(connector, kind, result)
    if kind != "access":
        return {"result": checked}
    data = json.dumps(checked, ensure_ascii=False).encode()
    sealed = ctx.crypto.seal_blob("request", _aad(request_id, connector.name), data)
    return {"sealed": base64.b64encode(sealed).decode("ascii")}


def _opened(ctx: Context, request_id: str, name: str, state: Mapping[str, Any]) -> dict[str, Any]:
    if "sealed" in state:
        blob = base64.b64decode(state["sealed"])
        opened: dict[str, Any] = json.loads(
            ctx.crypto.open_blob("request", _aad(request_id, name), blob)
        )
        return opened
    result: dict[str, Any] = state.get("result", {})
    return result


def _aad(request_id: str, dataset: str) -> bytes:
    return intake._aad(request_id, f"hook:{dataset}")


# -- the checkpoint -----------------------------------------------------------------------


def _checkpoint(record: RequestRecord) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(record.checkpoint or "{}")
    return loaded


def _states(ctx: Context, record: RequestRecord) -> dict[str, dict[str, Any]]:
    """The endpoints' progress as stored now (a callback may have come since)."""
    with ctx.uow(read_only=True) as uow:
        current = intake._get(uow, record.tenant_id, record.id)
    return states_of(current)


def states_of(record: RequestRecord) -> dict[str, dict[str, Any]]:
    """The endpoints' progress kept in a request's checkpoint."""
    states = _checkpoint(record).get(CHECKPOINT_KEY, {})
    return states if isinstance(states, dict) else {}


Event = tuple[str, str, str, dict[str, Any]]  # actor, audit action, history note, details


def _change(
    ctx: Context,
    record: RequestRecord,
    dataset: str,
    change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
    *,
    event: Event | None = None,
) -> dict[str, Any]:
    """Apply ``change`` to one endpoint's state under the request's lock; the new state."""
    now = ctx.clock()
    with ctx.uow() as uow:
        current = intake._get(uow, record.tenant_id, record.id, lock=True)
        checkpoint = _checkpoint(current)
        states = checkpoint.setdefault(CHECKPOINT_KEY, {})
        new = change(states.get(dataset))
        if new is not None:
            states[dataset] = new
        uow.requests.save(replace(current, checkpoint=json.dumps(checkpoint), updated_at=now))
        if event is not None:
            _record_event(uow, current, now, event)
        uow.commit()
    return new or {}


def _record_event(uow: AbstractUnitOfWork, record: RequestRecord, now: int, event: Event) -> None:
    actor, action, note, details = event
    uow.requests.add_event(
        record.tenant_id, record.id, now, record.state, record.state, actor, note
    )
    uow.audit.append(
        AuditEvent(
            action,
            actor,
            record.tenant_id,
            record.subject_id,
            (),
            {"request": record.id, "type": record.type, **details},
        ),
        now,
    )


def stored_for_completion(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint of a completed request: each endpoint's state without its result."""
    kept = dict(checkpoint)
    states = kept.get(CHECKPOINT_KEY)
    if isinstance(states, dict):
        kept[CHECKPOINT_KEY] = {
            name: {k: v for k, v in state.items() if k not in ("sealed", "result")}
            for name, state in states.items()
        }
    return kept


def waiting_view(record: RequestRecord) -> dict[str, Any]:
    """For a request in progress: the endpoints it waits for, and each endpoint's progress."""
    states = states_of(record)
    if not states:
        return {}
    return {
        "waiting_for": sorted(n for n, s in states.items() if s.get("status") != "received"),
        "hooks": {
            name: {
                "status": state.get("status"),
                "attempts": state.get("attempts", 0),
                "sent_at": iso(state["sent_at"]) if state.get("sent_at") else None,
                "received_at": iso(state["received_at"]) if state.get("received_at") else None,
                "error": state.get("error"),
            }
            for name, state in sorted(states.items())
        },
    }
