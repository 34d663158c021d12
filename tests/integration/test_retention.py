"""Retention sweeps on the vault: due data is removed, held data is kept and named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tutela.bootstrap import Runtime
from tutela.domain.retention import Events, Rule, expiry
from tutela.services import audit, holds, request_runner, requests, retention, vault

DAY = 86400 * 1_000_000


@pytest.fixture
def later(runtime: Runtime) -> Iterator[list[int]]:
    """Move the runtime's clock forward by the days appended to the yielded list."""
    real = runtime.ctx.clock
    shift: list[int] = [0]
    runtime.ctx.clock = lambda: real() + shift[-1] * DAY
    yield shift
    runtime.ctx.clock = real


def summary(data: dict[str, object]) -> set[tuple[str, str]]:
    return {(d["category"], d["rule"]) for d in data["due"]}  # type: ignore[attr-defined]


def test_only_what_outlived_every_rule_is_removed(runtime: Runtime, later: list[int]) -> None:
    who = runtime.operator()
    sid = vault.register(
        runtime.ctx,
        who,
        {
            "user.contact.email": "r@example.com",
            "user.account.username": "r",
            "user.device.ip_address": "203.0.113.9",
        },
    ).id
    assert retention.run(runtime.ctx, who, apply=False)["due"] == []
    later.append(100)  # security_logs keeps IP addresses 90 days after collection
    plan = retention.run(runtime.ctx, who, apply=False)
    assert summary(plan) == {("user.device.ip_address", "security_logs")}
    assert "203.0.113.9" not in repr(plan)
    assert "user.device.ip_address" in vault.read(runtime.ctx, who, sid).fields  # a dry run
    swept = retention.run(runtime.ctx, who, apply=True)
    assert swept["applied"] is True
    fields = vault.read(runtime.ctx, who, sid).fields
    assert set(fields) == {"user.contact.email", "user.account.username"}  # account still open
    assert retention.run(runtime.ctx, who, apply=True)["due"] == []  # nothing twice
    actions = [
        e["action"] for e in audit.entries(runtime.ctx, who, subject_id=None, after=0, limit=1000)
    ]
    assert "retention.sweep" in actions


def test_closing_the_account_starts_the_clock(runtime: Runtime, later: list[int]) -> None:
    who = runtime.operator()
    sid = vault.register(
        runtime.ctx, who, {"user.contact.email": "c@example.com", "user.account.username": "closer"}
    ).id
    closure = requests.create(
        runtime.ctx, who, "account_closure", email="c@example.com", verified_by="account_login"
    )
    request_runner.run(runtime.ctx, who, closure["id"])
    later.append(3 * 365)
    retention.run(runtime.ctx, who, apply=True)
    # the username's rules (account 30 days after closing, support 2 years) have all ended;
    # the email is kept for the orders' tax retention (10 years)
    assert set(vault.read(runtime.ctx, who, sid).fields) == {"user.contact.email"}
    later.append(11 * 365)
    retention.run(runtime.ctx, who, apply=True)
    assert vault.read(runtime.ctx, who, sid).status == "erased"  # nothing left: shredded


def test_a_hold_keeps_data_and_is_named(runtime: Runtime, later: list[int]) -> None:
    who = runtime.operator()
    sid = vault.register(
        runtime.ctx,
        who,
        {"user.contact.email": "h@example.com", "user.device.ip_address": "198.51.100.4"},
    ).id
    hold = holds.place(
        runtime.ctx, who, reason="police request 2026/77", category="user.device.ip_address"
    )
    later.append(100)
    swept = retention.run(runtime.ctx, who, apply=True)
    assert swept["held"] == [
        {"category": "user.device.ip_address", "hold": hold["id"], "fields": 1}
    ]
    assert "user.device.ip_address" in vault.read(runtime.ctx, who, sid).fields
    holds.release(runtime.ctx, who, hold["id"])
    retention.run(runtime.ctx, who, apply=True)
    assert "user.device.ip_address" not in vault.read(runtime.ctx, who, sid).fields


def test_the_longest_rule_wins_and_unstarted_rules_keep_data() -> None:
    day0 = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
    short = Rule("a", lambda t: t + dt.timedelta(days=30), "P30D", "collected", "delete")
    long = Rule("b", lambda t: t + dt.timedelta(days=365), "P1Y", "collected", "anonymize")
    closed = Rule("c", lambda t: t + dt.timedelta(days=1), "P1D", "account_closed", "delete")
    events = Events(last_activity=day0)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    found = expiry("x", day0, [short, long], events, now)
    assert found is not None
    assert (found.due, found.rule, found.then) == (False, "b", "anonymize")
    waiting = expiry("x", day0, [short, closed], events, now)
    assert waiting is not None
    assert waiting.due is False
    assert waiting.ends_at is None
    assert expiry("x", day0, [], events, now) is None
