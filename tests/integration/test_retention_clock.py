"""Removing expired fields is not the subject's activity: a sweep does not restart the
periods counted from the subject's last activity."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tutela.bootstrap import Runtime
from tutela.services import retention, vault

DAY = 86400 * 1_000_000
COOKIE = "user.device.cookie_id"  # session: 30 days after last activity; counting: 13 months


@pytest.fixture
def later(runtime: Runtime) -> Iterator[list[int]]:
    real = runtime.ctx.clock
    shift: list[int] = [0]
    runtime.ctx.clock = lambda: real() + shift[-1] * DAY
    yield shift
    runtime.ctx.clock = real


def due(runtime: Runtime) -> set[str]:
    swept = retention.run(runtime.ctx, runtime.operator(), apply=True)
    return {d["category"] for d in swept["due"]}


def test_a_partial_sweep_does_not_count_as_activity(runtime: Runtime, later: list[int]) -> None:
    who = runtime.operator()
    fields = {
        "user.contact.email": "clock@example.com",
        COOKIE: "c-81f2",
        "user.device.ip_address": "192.0.2.44",
    }
    sid = vault.register(runtime.ctx, who, fields).id
    later.append(370)  # the subject's last activity: the session now ends on day 400
    vault.update(runtime.ctx, who, sid, {"user.contact.email": "clock2@example.com"})
    later.append(380)
    assert due(runtime) == {"user.device.ip_address"}  # 90 days after collection
    later.append(405)
    assert due(runtime) == {COOKIE}  # the sweep on day 380 did not move the session's end
    assert set(vault.read(runtime.ctx, who, sid).fields) == {"user.contact.email"}
