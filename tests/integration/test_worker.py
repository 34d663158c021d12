"""The worker: scheduled tasks run once per slot, follow-ups, holds."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, SmtpSink, make_settings
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.errors import ConfigurationError, InvalidInput, NotFound
from tutela.entrypoints.worker_lock import single_worker
from tutela.services import consent, holds, packages, request_runner, requests, vault
from tutela.services.worker import Worker


def test_each_task_runs_once_per_slot_even_with_two_workers(runtime: Runtime) -> None:
    other = open_runtime(runtime.settings)
    try:
        results: list[list[tuple[str, dict[str, object]]]] = []
        threads = [
            threading.Thread(target=lambda rt=rt: results.append(Worker(rt.ctx).run_once()))
            for rt in (runtime, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        names = sorted(name for batch in results for name, _ in batch)
        assert names == ["jobs", "mail", "overdue", "packages", "policy", "retention"]
        assert Worker(runtime.ctx).run_once() == []  # nothing is due again yet
    finally:
        other.close()


def test_mail_and_expired_packages(mail_runtime: Runtime, smtp_sink: SmtpSink) -> None:
    rt = mail_runtime
    who = rt.operator()
    vault.register(rt.ctx, who, {"user.contact.email": "pk@example.com"})
    created = requests.create(
        rt.ctx,
        who,
        "access",
        email="pk@example.com",
        verified_by="account_login",
        language="en",
    )
    rt.ctx.mailer = None  # the run queues its mail; the worker sends it
    request_runner.run(rt.ctx, who, created["id"])
    mail_runtime_mailer = open_runtime(rt.settings).ctx.mailer
    rt.ctx.mailer = mail_runtime_mailer
    results = dict(Worker(rt.ctx).run_once())
    assert results["mail"]["sent"] == 1
    assert "complete" in smtp_sink.messages[-1]["Subject"]
    package_id = requests.package_of(rt.ctx, who, created["id"])
    real_clock = rt.ctx.clock
    rt.ctx.clock = lambda: real_clock() + 8 * packages.DAY
    try:
        later = dict(Worker(rt.ctx).run_once())
        assert later["packages"]["deleted"] == 1
        assert set(later["packages"]["pruned"]) == {"change_feed", "rate_marks"}
        with pytest.raises(NotFound, match="no longer exists"):
            packages.fetch(rt.ctx, "default", package_id)
        assert later["overdue"]["escalated"] == {}  # completed requests are not escalated
    finally:
        rt.ctx.clock = real_clock


def test_overdue_requests_are_escalated_to_the_privacy_officer(
    mail_runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    rt = mail_runtime
    created = requests.create(rt.ctx, rt.operator(), "erasure", email="late@example.com")
    real_clock = rt.ctx.clock
    rt.ctx.clock = lambda: real_clock() + 40 * packages.DAY
    try:
        results = dict(Worker(rt.ctx).run_once())
    finally:
        rt.ctx.clock = real_clock
    assert results["overdue"]["escalated"] == {"default": 1}
    message = smtp_sink.messages[-1]
    assert message["To"] == "dpo@example.com"
    assert created["id"] in message.get_content()
    assert "late@example.com" not in message.get_content()


def test_a_withdrawal_follow_up_erases_data_held_only_for_that_purpose(
    tmp_path: Path, backend: str
) -> None:
    settings = make_settings(tmp_path / "app", backend)
    initialize(settings, EXAMPLES / "mobile-app.yml")
    rt = open_runtime(settings.with_overrides(withdrawal_follow_up="erase_exclusive"))
    try:
        who = rt.operator()
        sid = vault.register(
            rt.ctx,
            who,
            {"user.contact.phone_number": "+8613800138000", "appco.survey_answer": "5 stars"},
        ).id
        consent.record(rt.ctx, who, sid, ["surveys"], "grant")
        consent.withdraw_all(rt.ctx, who, sid)
        assert dict(Worker(rt.ctx).run_once())["jobs"] == {"done": 1, "failed": 0}
        assert "appco.survey_answer" not in vault.read(rt.ctx, who, sid).fields
        assert "user.contact.phone_number" in vault.read(rt.ctx, who, sid).fields
    finally:
        rt.close()


def test_legal_holds(runtime: Runtime) -> None:
    who = runtime.operator()
    sid = vault.register(runtime.ctx, who, {"user.contact.email": "h@example.com"}).id
    hold = holds.place(
        runtime.ctx,
        who,
        reason="Case 4 O 123/26, Landgericht Berlin",
        subject_id=sid,
        ends_on="2099-01-01",
    )
    assert hold["scope"] == "subject"
    assert [h["id"] for h in holds.listing(runtime.ctx, who)] == [hold["id"]]
    with pytest.raises(InvalidInput, match="reason"):
        holds.place(runtime.ctx, who, reason=" ")
    with pytest.raises(InvalidInput, match="declared"):
        holds.place(runtime.ctx, who, reason="x", category="user.nope")
    holds.release(runtime.ctx, who, hold["id"])
    assert holds.listing(runtime.ctx, who) == []
    with pytest.raises(NotFound):
        holds.release(runtime.ctx, who, hold["id"])


def test_one_worker_per_embedded_database(runtime: Runtime, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL takes several workers")
    with (
        single_worker(runtime.settings),
        pytest.raises(ConfigurationError, match="one worker"),
        single_worker(runtime.settings),
    ):
        pass
