"""The consent ledger on a real database: record, withdraw, check, minors, receipts."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import EXAMPLES
from tutela.adapters.signing import verify_jws
from tutela.adapters.tables import consent_events, jobs
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.consent import ConsentEvent, fold
from tutela.domain.errors import InvalidInput, NotFound
from tutela.services import audit, consent, vault
from tutela.settings import Settings

EMAIL = "user.contact.email"


def subject(rt: Runtime, email: str = "c@example.com", **extra: str) -> str:
    return vault.register(rt.ctx, rt.operator(), {EMAIL: email, **extra}).id


def check(rt: Runtime, sid: str, purpose: str) -> str:
    decision = consent.check(rt.ctx, rt.operator(), sid, purpose)
    return decision.reason


def ledger_size(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(consent_events)).scalar_one())


def test_grant_withdraw_and_grant_again(runtime: Runtime) -> None:
    sid = subject(runtime)
    assert check(runtime, sid, "user_counting") == "no_consent"
    consent.record(runtime.ctx, runtime.operator(), sid, ["user_counting"], "grant")
    assert check(runtime, sid, "user_counting") == "consent"
    consent.withdraw_all(runtime.ctx, runtime.operator(), sid)
    assert check(runtime, sid, "user_counting") == "consent_withdrawn"  # at once
    consent.record(runtime.ctx, runtime.operator(), sid, ["user_counting"], "grant")
    assert check(runtime, sid, "user_counting") == "consent"
    assert ledger_size(runtime) == 3  # past events stay


def test_other_legal_bases_and_unknowns(runtime: Runtime) -> None:
    sid = subject(runtime)
    assert check(runtime, sid, "account") == "contract"
    assert check(runtime, sid, "orders") == "legal_obligation"
    assert check(runtime, sid, "security_logs") == "legitimate_interests"
    assert check(runtime, sid, "nope") == "unknown_purpose"
    assert check(runtime, "00000000-0000-0000-0000-000000000000", "account") == "unknown_subject"
    vault.erase(runtime.ctx, runtime.operator(), sid, "test")
    assert check(runtime, sid, "account") == "subject_erased"


def test_bad_input_records_nothing(runtime: Runtime) -> None:
    sid = subject(runtime)
    who = runtime.operator()
    with pytest.raises(InvalidInput, match="did you mean user_counting"):
        consent.record(runtime.ctx, who, sid, ["user_countng"], "grant")
    with pytest.raises(InvalidInput, match="not consent"):
        consent.record(runtime.ctx, who, sid, ["user_counting", "account"], "grant")
    with pytest.raises(NotFound):
        consent.record(
            runtime.ctx, who, "00000000-0000-0000-0000-000000000000", ["user_counting"], "grant"
        )
    with pytest.raises(InvalidInput, match="guardian"):
        consent.record(runtime.ctx, who, sid, ["user_counting"], "grant", method="guardian")
    with pytest.raises(InvalidInput, match="jurisdiction"):
        consent.record(runtime.ctx, who, sid, ["user_counting"], "grant", jurisdiction="pipl")
    assert ledger_size(runtime) == 0


def test_minors_need_their_guardian(runtime: Runtime) -> None:
    born = dt.date.today().replace(year=dt.date.today().year - 12, month=1, day=1)
    sid = subject(runtime, **{"user.demographic.date_of_birth": born.isoformat()})
    who = runtime.operator()
    with pytest.raises(InvalidInput, match="guardian must consent"):
        consent.record(runtime.ctx, who, sid, ["user_counting"], "grant")
    guardian = consent.Guardian("Parent@Example.com", "id_document")
    events = consent.record(runtime.ctx, who, sid, ["user_counting"], "grant", guardian=guardian)
    assert events[0]["by"] == "guardian"
    assert check(runtime, sid, "user_counting") == "consent"
    consent.record(runtime.ctx, who, sid, ["user_counting"], "withdraw", guardian=guardian)
    assert check(runtime, sid, "user_counting") == "consent_withdrawn"
    shown = consent.show(runtime.ctx, who, sid)
    assert shown["minor_until"] == born.replace(year=born.year + 18).isoformat()
    assert "parent" not in repr(shown).lower()  # the guardian's email is never shown


def test_an_age_claim_marks_a_minor(runtime: Runtime) -> None:
    who = runtime.operator()
    minor = vault.register(runtime.ctx, who, {EMAIL: "young@example.com"}, age_claim=15).id
    adult = vault.register(runtime.ctx, who, {EMAIL: "old@example.com"}, age_claim=30).id
    with pytest.raises(InvalidInput, match="minor"):
        consent.record(runtime.ctx, who, minor, ["user_counting"], "grant")
    consent.record(runtime.ctx, who, adult, ["user_counting"], "grant")


def test_separate_consent_is_not_given_by_accept_all(tmp_path: Path, backend: str) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "saas", backend)
    initialize(settings, EXAMPLES / "saas-helpdesk.yml")
    rt = open_runtime(settings)
    try:
        who = rt.operator()
        sid = vault.register(rt.ctx, who, {"user.contact.phone_number": "+8613800138000"}).id
        purposes = ["real_name_verification", "voice_video_calls"]
        consent.record(rt.ctx, who, sid, purposes, "grant", bundled=True)
        assert check(rt, sid, "voice_video_calls") == "separate_consent_required"
        consent.record(rt.ctx, who, sid, ["voice_video_calls"], "grant")
        assert check(rt, sid, "voice_video_calls") == "consent"
        assert check(rt, sid, "real_name_verification") == "separate_consent_required"
    finally:
        rt.close()


def test_another_process_sees_a_withdrawal_within_the_poll_interval(
    runtime: Runtime,
) -> None:
    sid = subject(runtime)
    who = runtime.operator()
    consent.record(runtime.ctx, who, sid, ["user_counting"], "grant")
    other = open_runtime(runtime.settings)  # a second API process on the same database
    try:
        assert check(other, sid, "user_counting") == "consent"  # now cached there
        consent.withdraw_all(runtime.ctx, who, sid)
        deadline = time.monotonic() + 2.0
        while check(other, sid, "user_counting") == "consent" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert check(other, sid, "user_counting") == "consent_withdrawn"
    finally:
        other.close()


def test_concurrent_grants_and_withdrawals_end_in_ledger_order(runtime: Runtime) -> None:
    sid = subject(runtime)
    who = runtime.operator()
    errors: list[BaseException] = []

    def worker(action: str) -> None:
        try:
            for _ in range(15):
                consent.record(runtime.ctx, who, sid, ["user_counting"], action)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a,)) for a in ("grant", "withdraw")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.ctx.uow(read_only=True) as uow:
        stored = uow.consent.states("default", sid)
        events = uow.consent.events("default", sid)
    folded = fold(
        ConsentEvent(e.seq, e.purpose, e.action, e.at, e.by, e.bundled, e.policy_version)  # type: ignore[arg-type]
        for e in events
    )
    assert stored["user_counting"].status == folded["user_counting"].status
    assert stored["user_counting"].seq == max(e.seq for e in events)
    runtime.ctx.decisions = None  # a fresh cache reads what is stored
    expected = "consent" if folded["user_counting"].status == "granted" else "consent_withdrawn"
    assert check(runtime, sid, "user_counting") == expected


def test_receipts_are_signed_and_audited(runtime: Runtime) -> None:
    sid = subject(runtime)
    who = runtime.operator()
    event = consent.record(runtime.ctx, who, sid, ["user_counting"], "grant")[0]
    token = consent.receipt(runtime.ctx, who, event["id"])
    assert runtime.ctx.signer is not None
    payload = verify_jws(token, runtime.ctx.signer.jwks())
    assert payload["record_id"] == event["id"]
    assert payload["subject_id"] == sid
    assert payload["event"]["state"] == "given"
    assert "c@example.com" not in token
    actions = [
        e["action"] for e in audit.entries(runtime.ctx, who, subject_id=sid, after=0, limit=10)
    ]
    assert "consent.grant" in actions
    assert audit.verify(runtime.ctx, who).ok


def test_withdrawal_can_queue_a_follow_up(tmp_path: Path, backend: str) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "f", backend)
    initialize(settings, EXAMPLES / "desktop-vendor.yml")
    rt = open_runtime(settings.with_overrides(withdrawal_follow_up="erase_exclusive"))
    try:
        sid = subject(rt)
        consent.record(rt.ctx, rt.operator(), sid, ["user_counting"], "grant")
        consent.withdraw_all(rt.ctx, rt.operator(), sid)
        with rt.engine.connect() as conn:
            queued = conn.execute(select(jobs.c.kind, jobs.c.subject_id, jobs.c.state)).all()
        assert [tuple(r) for r in queued] == [("consent.withdrawn", sid, "queued")]
    finally:
        rt.close()


def test_settings_reject_an_unknown_follow_up() -> None:
    from tutela.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="erase_exclusive"):
        Settings.from_env(env={"TUTELA_WITHDRAWAL_FOLLOW_UP": "shred"})


def test_a_guardian_consents_only_for_a_minor(runtime: Runtime) -> None:
    sid = subject(runtime)
    guardian = consent.Guardian("parent@example.com", "id_document")
    with pytest.raises(InvalidInput, match="not a minor"):
        consent.record(
            runtime.ctx, runtime.operator(), sid, ["user_counting"], "grant", guardian=guardian
        )


def test_removing_the_birth_date_keeps_the_minor_a_minor(runtime: Runtime) -> None:
    born = dt.date.today().replace(year=dt.date.today().year - 12, month=1, day=1)
    sid = subject(runtime, **{"user.demographic.date_of_birth": born.isoformat()})
    vault.update(runtime.ctx, runtime.operator(), sid, {"user.demographic.date_of_birth": None})
    with pytest.raises(InvalidInput, match="guardian must consent"):
        consent.record(runtime.ctx, runtime.operator(), sid, ["user_counting"], "grant")


def test_a_required_renewal_makes_older_consents_stale(runtime: Runtime) -> None:
    sid = subject(runtime)
    who = runtime.operator()
    consent.record(runtime.ctx, who, sid, ["user_counting"], "grant")
    other = open_runtime(runtime.settings)  # another process with a warm cache
    try:
        assert check(other, sid, "user_counting") == "consent"
        time.sleep(0.002)
        consent.require_renewal(runtime.ctx, who, ["user_counting"])
        assert check(runtime, sid, "user_counting") == "consent_stale"
        deadline = time.monotonic() + 2.0
        while check(other, sid, "user_counting") != "consent_stale" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert check(other, sid, "user_counting") == "consent_stale"
        consent.record(runtime.ctx, who, sid, ["user_counting"], "grant")
        assert check(runtime, sid, "user_counting") == "consent"
    finally:
        other.close()
    with pytest.raises(InvalidInput, match="not consent"):
        consent.require_renewal(runtime.ctx, who, ["account"])
