"""Tutela embedded in an application, through the public library API."""

from __future__ import annotations

from tutela import Tutela
from tutela.bootstrap import Runtime


def test_an_app_registers_consents_and_checks_in_process(runtime: Runtime) -> None:
    t = Tutela(runtime, actor="shop")
    sid = t.register({"user.contact.email": "lib@example.com"})["id"]
    assert t.find(email="LIB@example.com")["id"] == sid
    assert not t.may_process(sid, "user_counting").allowed
    t.grant(sid, ["user_counting"])
    decision = t.may_process(sid, "user_counting")
    assert (decision.allowed, decision.reason) == (True, "consent")
    t.withdraw(sid)
    assert t.may_process(sid, "user_counting").reason == "consent_withdrawn"
    answers = t.check_many([(sid, "account"), (sid, "user_counting"), ("nobody", "account")])
    assert [a.reason for a in answers] == ["contract", "consent_withdrawn", "unknown_subject"]
    assert t.correct(sid, {"user.contact.email": "new@example.com"})["fields"] == {
        "user.contact.email": "new@example.com"
    }
