"""Data-subject requests end to end on a real database, with a real SMTP sink."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import SmtpSink
from tutela.bootstrap import Runtime
from tutela.domain import requests as rules
from tutela.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from tutela.services import consent, packages, request_runner, requests, vault

EMAIL = "user.contact.email"


def register(rt: Runtime, email: str = "ada@example.com", **extra: str) -> str:
    fields = {EMAIL: email, "user.account.username": email.split("@", 1)[0], **extra}
    return vault.register(rt.ctx, rt.operator(), fields).id


def code_from(sink: SmtpSink) -> str:
    body = sink.messages[-1].get_content()
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def test_access_request_from_intake_to_download(mail_runtime: Runtime, smtp_sink: SmtpSink) -> None:
    rt = mail_runtime
    who = rt.operator()
    sid = register(rt, "ada@example.com")
    consent.record(rt.ctx, who, sid, ["user_counting"], "grant")
    created = requests.create(rt.ctx, who, "access", email="ADA@example.com")
    assert created["state"] == "received"
    assert created["subject_id"] == sid
    assert "ada" not in json.dumps(created)  # the identity is never shown back
    requests.send_code(rt.ctx, who, created["id"], client="203.0.113.7")
    assert smtp_sink.messages[-1]["To"] == "ada@example.com"
    with pytest.raises(InvalidInput, match="tries left"):
        requests.verify_code(
            rt.ctx, who, created["id"], "000000" if code_from(smtp_sink) != "000000" else "111111"
        )
    verified = requests.verify_code(rt.ctx, who, created["id"], code_from(smtp_sink))
    assert verified["state"] == "verified"
    done = request_runner.run(rt.ctx, who, created["id"])
    assert done["state"] == "completed"
    package = done["result"]["package"]
    assert package["counts"]["tutela"] == {"subject": 1, "consent": 1}
    assert "ada@example.com" not in json.dumps(done)  # results carry no personal values
    link = urlparse(requests.download_link(rt.ctx, who, created["id"]))
    assert link.geturl() in smtp_sink.messages[-1].get_content()
    query = parse_qs(link.query)
    tenant, package_id = link.path.split("/")[-2:]
    content = packages.fetch(
        rt.ctx, tenant, package_id, expires=int(query["expires"][0]), token=query["token"][0]
    )
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert {"data.json", "summary.html", "tutela/subject.csv", "tutela/consent.csv"} <= set(
        archive.namelist()
    )
    data = json.loads(archive.read("data.json"))
    subject_row = data["stores"]["tutela"]["subject"][0]
    assert subject_row[EMAIL] == {"value": "ada@example.com", "categories": [EMAIL]}
    assert "ada@example.com" in archive.read("summary.html").decode()
    assert smtp_sink.messages[-1]["Subject"] == "Ihr Antrag (Auskunft) ist erledigt"  # de: default
    history = [h["to"] for h in requests.show(rt.ctx, who, created["id"])["history"]]
    assert history == ["received", "verifying", "verified", "in_progress", "completed"]


def test_links_expire_with_a_readable_message(runtime: Runtime) -> None:
    who = runtime.operator()
    register(runtime)
    created = requests.create(
        runtime.ctx, who, "access", email="ada@example.com", verified_by="account_login"
    )
    request_runner.run(runtime.ctx, who, created["id"])
    link = urlparse(requests.download_link(runtime.ctx, who, created["id"]))
    tenant, package_id = link.path.split("/")[-2:]
    token = parse_qs(link.query)["token"][0]
    with pytest.raises(InvalidInput, match="not valid"):
        packages.fetch(runtime.ctx, tenant, package_id, expires=1, token=token)
    real_clock = runtime.ctx.clock
    runtime.ctx.clock = lambda: real_clock() + 8 * packages.DAY
    try:
        expires = int(parse_qs(link.query)["expires"][0])
        with pytest.raises(NotFound, match="expired on"):
            packages.fetch(runtime.ctx, tenant, package_id, expires=expires, token=token)
    finally:
        runtime.ctx.clock = real_clock


def test_codes_expire_run_out_and_are_rate_limited(
    mail_runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    rt = mail_runtime
    who = rt.operator()
    created = requests.create(rt.ctx, who, "erasure", email="nobody@example.com")
    requests.send_code(rt.ctx, who, created["id"], client="198.51.100.1")
    good = code_from(smtp_sink)
    wrong = "123456" if good != "123456" else "654321"
    for _ in range(4):
        with pytest.raises(InvalidInput, match="tries left"):
            requests.verify_code(rt.ctx, who, created["id"], wrong)
    with pytest.raises(InvalidInput, match="last try"):
        requests.verify_code(rt.ctx, who, created["id"], wrong)
    with pytest.raises(Conflict, match="ask for a new one"):
        requests.verify_code(rt.ctx, who, created["id"], good)
    requests.send_code(rt.ctx, who, created["id"], client="198.51.100.1")
    requests.send_code(rt.ctx, who, created["id"], client="198.51.100.1")
    with pytest.raises(Forbidden, match="too many codes"):
        requests.send_code(rt.ctx, who, created["id"], client="198.51.100.1")
    real_clock = rt.ctx.clock
    rt.ctx.clock = lambda: real_clock() + 11 * 60 * 1_000_000
    try:
        with pytest.raises(InvalidInput, match="expired"):
            requests.verify_code(rt.ctx, who, created["id"], code_from(smtp_sink))
    finally:
        rt.ctx.clock = real_clock


def test_erasure_keeps_what_the_law_requires_and_says_until_when(runtime: Runtime) -> None:
    who = runtime.operator()
    sid = register(runtime, "eve@example.com", **{"user.behavior.purchase_history": "3 orders"})
    created = requests.create(
        runtime.ctx, who, "erasure", email="eve@example.com", verified_by="id_document"
    )
    done = request_runner.run(runtime.ctx, who, created["id"])
    step = done["result"]["vault"]
    kept = {k["category"]: k for k in step["kept"]}
    # orders (tax law, 10 years) keep the purchase history and the email used on invoices
    assert set(kept) == {"user.behavior.purchase_history", EMAIL}
    assert kept[EMAIL]["purpose"] == "orders"
    assert dt.date.fromisoformat(kept[EMAIL]["until"]).year >= dt.date.today().year + 9
    assert step["removed"] == ["user.account.username"]
    view = vault.read(runtime.ctx, who, sid)
    assert set(view.fields) == {"user.behavior.purchase_history", EMAIL}


def test_a_request_for_an_unknown_identity_reports_no_vault_data(runtime: Runtime) -> None:
    who = runtime.operator()
    created = requests.create(
        runtime.ctx, who, "erasure", email="solo@example.com", verified_by="in_person"
    )
    assert created["subject_id"] is None  # nobody in the vault has that email
    done = request_runner.run(runtime.ctx, who, created["id"])
    assert done["state"] == "completed"
    assert done["result"]["vault"] == {"erased": False, "reason": "no data in the vault"}


def test_rectification_restriction_objection_and_closure(runtime: Runtime) -> None:
    who = runtime.operator()
    sid = register(runtime, "rob@example.com")
    fix = requests.create(
        runtime.ctx,
        who,
        "rectification",
        email="rob@example.com",
        verified_by="account_login",
        details={"fields": {"user.account.username": "robert"}},
    )
    request_runner.run(runtime.ctx, who, fix["id"])
    assert vault.read(runtime.ctx, who, sid).fields["user.account.username"] == "robert"

    restrict = requests.create(
        runtime.ctx, who, "restriction", email="rob@example.com", verified_by="account_login"
    )
    request_runner.run(runtime.ctx, who, restrict["id"])
    assert consent.check(runtime.ctx, who, sid, "account").reason == "subject_restricted"
    assert consent.check(runtime.ctx, who, sid, "orders").reason == "legal_obligation"
    lift = requests.create(
        runtime.ctx, who, "lift_restriction", email="rob@example.com", verified_by="account_login"
    )
    request_runner.run(runtime.ctx, who, lift["id"])
    assert consent.check(runtime.ctx, who, sid, "account").reason == "contract"

    objection = requests.create(
        runtime.ctx,
        who,
        "objection",
        email="rob@example.com",
        verified_by="account_login",
        details={"purpose": "security_logs"},
    )
    request_runner.run(runtime.ctx, who, objection["id"])
    assert consent.check(runtime.ctx, who, sid, "security_logs").reason == "objection"
    with pytest.raises(InvalidInput, match="withdraw consent instead"):
        requests.create(
            runtime.ctx, who, "objection", email="rob@example.com", details={"purpose": "account"}
        )

    consent.record(runtime.ctx, who, sid, ["user_counting"], "grant")
    closure = requests.create(
        runtime.ctx, who, "account_closure", email="rob@example.com", verified_by="account_login"
    )
    done = request_runner.run(runtime.ctx, who, closure["id"])
    assert done["result"]["withdraw"] == {"withdrawn": ["user_counting"]}
    assert consent.check(runtime.ctx, who, sid, "user_counting").allowed is False
    assert consent.check(runtime.ctx, who, sid, "account").reason == "account_closed"


def test_intake_refuses_bad_input_and_duplicates(runtime: Runtime) -> None:
    who = runtime.operator()
    with pytest.raises(InvalidInput, match="unknown request type"):
        requests.create(runtime.ctx, who, "forget_me", email="x@example.com")
    with pytest.raises(InvalidInput, match="exactly one identity"):
        requests.create(runtime.ctx, who, "access")
    with pytest.raises(InvalidInput, match="unknown jurisdiction"):
        requests.create(runtime.ctx, who, "access", email="x@example.com", jurisdiction="mars")
    with pytest.raises(InvalidInput, match="verification method"):
        requests.create(runtime.ctx, who, "access", email="x@example.com", verified_by="vibes")
    first = requests.create(runtime.ctx, who, "access", email="x@example.com")
    with pytest.raises(Conflict, match=first["id"]):
        requests.create(runtime.ctx, who, "access", email="X@example.com")
    with pytest.raises(Conflict, match="only verified requests run"):
        request_runner.run(runtime.ctx, who, first["id"])
    requests.reject(runtime.ctx, who, first["id"], "We hold no data about this address.")
    shown = requests.show(runtime.ctx, who, first["id"])
    assert shown["state"] == "rejected"
    assert shown["rejection_reason"] == "We hold no data about this address."


def test_deadlines_follow_the_jurisdiction() -> None:
    received = dt.date(2026, 1, 31)
    gdpr = rules.rule_for("gdpr")
    assert rules.due_date(gdpr, received, 0, False) == dt.date(2026, 2, 28)
    assert rules.due_date(gdpr, received, 0, True) == dt.date(2026, 4, 30)
    assert rules.due_date(gdpr, received, 3, False) == dt.date(2026, 3, 3)
    ccpa = rules.rule_for("ccpa")
    assert rules.due_date(ccpa, received, 5, False) == dt.date(2026, 3, 17)  # no pause
    assert rules.acknowledge_by(ccpa, dt.date(2026, 11, 20)) == dt.date(2026, 12, 4)
    assert rules.due_date(rules.rule_for("lgpd"), received, 0, False) == dt.date(2026, 2, 15)
    assert rules.due_date(rules.rule_for("pipl", 15), received, 0, False) == dt.date(2026, 2, 15)
    with pytest.raises(Conflict, match="no extension"):
        rules.can_extend(rules.rule_for("lgpd"), received, received, False)
    with pytest.raises(Conflict, match="within the first period"):
        rules.can_extend(gdpr, received, dt.date(2026, 3, 5), False)
    assert rules.urgency(received, dt.date(2026, 2, 28), dt.date(2026, 3, 1)) == "overdue"
    assert rules.urgency(received, dt.date(2026, 2, 28), dt.date(2026, 2, 25)) == "due_soon"
    assert rules.urgency(received, dt.date(2026, 2, 28), dt.date(2026, 2, 2)) == "on_time"


def test_the_queue_lists_open_requests_by_due_date(runtime: Runtime) -> None:
    who = runtime.operator()
    lgpd_declared = "gdpr"  # the example declares gdpr only; deadlines differ by type of law
    slow = requests.create(
        runtime.ctx, who, "access", email="a1@example.com", jurisdiction=lgpd_declared
    )
    done = requests.create(runtime.ctx, who, "erasure", email="a2@example.com")
    requests.reject(runtime.ctx, who, done["id"], "duplicate of another request")
    extended = requests.create(runtime.ctx, who, "access", email="a3@example.com")
    requests.extend(runtime.ctx, who, extended["id"], "the data is spread over many systems")
    queue = requests.queue(runtime.ctx, who)
    assert [q["id"] for q in queue] == [slow["id"], extended["id"], done["id"]]
    assert queue[1]["extended"] is True
    with pytest.raises(Conflict, match="already extended"):
        requests.extend(runtime.ctx, who, extended["id"], "again")


def test_erasure_respects_legal_holds_and_forgets_the_identity(runtime: Runtime) -> None:
    from tutela.services import holds

    who = runtime.operator()
    sid = register(runtime, "held@example.com")
    hold = holds.place(runtime.ctx, who, reason="Case 7 C 55/26", subject_id=sid)
    created = requests.create(
        runtime.ctx, who, "erasure", email="held@example.com", verified_by="id_document"
    )
    done = request_runner.run(runtime.ctx, who, created["id"])
    kept = done["result"]["vault"]["kept"]
    assert {k["category"] for k in kept} == {EMAIL, "user.account.username"}
    assert all(k.get("hold") == hold["id"] or k.get("purpose") for k in kept)
    assert vault.read(runtime.ctx, who, sid).fields["user.account.username"] == "held"
    with runtime.ctx.uow(read_only=True) as uow:
        stored = uow.requests.get("default", created["id"])
    assert stored is not None
    assert stored.identity_enc == b""  # the request no longer names the subject
    assert stored.details_enc is None
