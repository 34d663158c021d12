"""The start events of retention rules: when an account was closed, when a purpose ended."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from tutela.adapters.tables import subjects
from tutela.bootstrap import Runtime
from tutela.services import audit, request_runner, requests, retention, vault

DAY = 86400 * 1_000_000
BIRTH = "user.demographic.date_of_birth"  # purpose account only: P30D after account_closed


@pytest.fixture
def later(runtime: Runtime) -> Iterator[list[int]]:
    real = runtime.ctx.clock
    shift: list[int] = [0]
    runtime.ctx.clock = lambda: real() + shift[-1] * DAY
    yield shift
    runtime.ctx.clock = real


def due(runtime: Runtime, *, apply: bool = False) -> set[str]:
    found = retention.run(runtime.ctx, runtime.operator(), apply=apply)
    return {d["category"] for d in found["due"]}


def close(runtime: Runtime, email: str) -> None:
    who = runtime.operator()
    closure = requests.create(
        runtime.ctx, who, "account_closure", email=email, verified_by="account_login"
    )
    request_runner.run(runtime.ctx, who, closure["id"])


def test_closing_records_when_and_a_later_change_does_not_move_it(
    runtime: Runtime, later: list[int]
) -> None:
    who = runtime.operator()
    sid = vault.register(
        runtime.ctx, who, {"user.contact.email": "shut@example.com", BIRTH: "1990-04-05"}
    ).id
    later.append(10)
    close(runtime, "shut@example.com")
    with runtime.ctx.uow(read_only=True) as uow:
        record = uow.subjects.get("default", sid)
    assert record is not None
    assert record.status == "closed"
    assert record.closed_at is not None
    closed = record.closed_at
    later.append(25)  # a correction after closing is a change, not a new closing
    vault.update(runtime.ctx, who, sid, {BIRTH: "1990-04-06"})
    with runtime.ctx.uow(read_only=True) as uow:
        after = uow.subjects.get("default", sid)
    assert after is not None
    assert after.closed_at == closed
    assert after.updated_at > closed
    later.append(10 + 31)  # 31 days after closing, 16 after the correction
    assert BIRTH in due(runtime)
    actions = [
        e["action"] for e in audit.entries(runtime.ctx, who, subject_id=sid, after=0, limit=100)
    ]
    assert "subject.close" in actions


def test_accounts_closed_before_the_time_was_recorded_count_from_their_last_change(
    runtime: Runtime, later: list[int]
) -> None:
    who = runtime.operator()
    sid = vault.register(
        runtime.ctx, who, {"user.contact.email": "old@example.com", BIRTH: "1980-01-02"}
    ).id
    close(runtime, "old@example.com")
    with runtime.engine.begin() as connection:  # as a row closed before schema 0008
        connection.execute(update(subjects).where(subjects.c.id == sid).values(closed_at=None))
    later.append(20)
    vault.update(runtime.ctx, who, sid, {BIRTH: "1980-01-03"})  # moves the fallback
    later.append(40)
    assert BIRTH not in due(runtime)  # 20 days after the last change
    later.append(51)
    assert BIRTH in due(runtime)
