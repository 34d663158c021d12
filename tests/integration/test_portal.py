"""The privacy center's use cases: an erasure waits its cooling-off period, then the worker
carries it out and the subject's sessions end; a cancelled one is left alone."""

from __future__ import annotations

from tutela.bootstrap import Runtime
from tutela.domain.subjects import ERASED
from tutela.services import portal, requests, sessions, vault
from tutela.services.worker import Worker

HOUR = 3600 * 1_000_000
EMAIL = "user.contact.email"


def _session(rt: Runtime, email: str) -> tuple[str, str]:
    sid = vault.register(rt.ctx, rt.operator(), {"user.contact.email": email}).id
    codes: list[str | None] = []

    def compose(code: str | None) -> tuple[str, str]:
        codes.append(code)
        return ("code", str(code))

    pending = sessions.start_sign_in(
        rt.ctx,
        sessions.PRIVACY,
        "default",
        email,
        account_of=portal.account_of("default"),
        compose=compose,
    )
    token, _session = sessions.verify_sign_in(
        rt.ctx, sessions.PRIVACY, "default", pending, str(codes[-1])
    )
    return sid, token


def test_an_erasure_runs_after_its_cooling_off_period(runtime: Runtime) -> None:
    sid, token = _session(runtime, "ada@example.com")
    session = sessions.load(runtime.ctx, sessions.PRIVACY, "default", token)
    assert session is not None
    made = portal.submit(runtime.ctx, session, "erasure")
    assert made["state"] == "verified"
    worker = Worker(runtime.ctx)
    worker.run_once()
    assert portal.open_request(runtime.ctx, session, "erasure") is not None  # still waiting
    real = runtime.ctx.clock
    runtime.ctx.clock = lambda: real() + 25 * HOUR
    try:
        worker.run_once()
    finally:
        runtime.ctx.clock = real
    done = requests.show(runtime.ctx, runtime.operator(), made["id"])
    assert done["state"] == "completed"
    assert done["result"]["vault"]["erased"] is True  # tax law keeps the email (orders)
    assert vault.read(runtime.ctx, runtime.operator(), sid).fields.keys() <= {EMAIL}
    assert sessions.load(runtime.ctx, sessions.PRIVACY, "default", token) is None


def test_a_cancelled_erasure_is_left_alone(runtime: Runtime) -> None:
    sid, token = _session(runtime, "bob@example.com")
    session = sessions.load(runtime.ctx, sessions.PRIVACY, "default", token)
    assert session is not None
    made = portal.submit(runtime.ctx, session, "erasure")
    assert portal.cancel(runtime.ctx, session, made["id"])["state"] == "cancelled"
    real = runtime.ctx.clock
    runtime.ctx.clock = lambda: real() + 25 * HOUR
    try:
        Worker(runtime.ctx).run_once()
    finally:
        runtime.ctx.clock = real
    assert vault.read(runtime.ctx, runtime.operator(), sid).status != ERASED
