"""A request interrupted mid-way resumes without double work and is never reported
completed before every step has finished."""

from __future__ import annotations

from typing import Any

import pytest

from tutela.bootstrap import Runtime
from tutela.services import request_runner, requests, vault
from tutela.services.ports import RequestRecord


class Crash(BaseException):
    """Stands for the process dying (kill -9): nothing after it runs."""


def test_an_interrupted_erasure_resumes_where_it_stopped(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = runtime.operator()
    sid = vault.register(
        runtime.ctx, who, {"user.account.username": "kim", "user.contact.email": "kim@example.com"}
    ).id
    created = requests.create(
        runtime.ctx, who, "account_closure", email="kim@example.com", verified_by="account_login"
    )
    calls: dict[str, int] = {}
    original = dict(request_runner.STEPS)

    def counting(name: str, step: Any, crash: bool) -> Any:
        def wrapped(ctx: Any, principal: Any, record: RequestRecord) -> dict[str, Any]:
            calls[name] = calls.get(name, 0) + 1
            result: dict[str, Any] = step(ctx, principal, record)
            if crash:
                raise Crash  # the step's own work is done and committed; the process dies
            return result

        return wrapped

    steps = original["account_closure"]
    crashing = [(n, counting(n, s, crash=(n == "vault"))) for n, s in steps]
    monkeypatch.setitem(request_runner.STEPS, "account_closure", crashing)
    with pytest.raises(Crash):
        request_runner.run(runtime.ctx, who, created["id"])
    shown = requests.show(runtime.ctx, who, created["id"])
    assert shown["state"] == "in_progress"  # never reported completed
    assert shown["result"] is None

    resumed = [(n, counting(n, s, crash=False)) for n, s in steps]
    monkeypatch.setitem(request_runner.STEPS, "account_closure", resumed)
    done = request_runner.run(runtime.ctx, who, created["id"])
    assert done["state"] == "completed"
    # withdraw and datasets finished before the crash and were not run again; the step
    # that died with the process ran again (its work is idempotent); close ran once
    assert calls == {"withdraw": 1, "datasets": 1, "vault": 2, "close": 1}
    assert vault.read(runtime.ctx, who, sid).fields == {"user.contact.email": "kim@example.com"}
    history = [h["to"] for h in requests.show(runtime.ctx, who, created["id"])["history"]]
    assert history.count("completed") == 1
