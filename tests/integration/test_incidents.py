"""Incidents on a real database: the register and its audit trail, the affected subjects,
the notices through a real SMTP server, closing, and the regulator's report."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select, update

from tests.conftest import EXAMPLES, SmtpSink
from tutela.adapters.tables import audit_log, outbox, subjects
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.access import Principal
from tutela.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from tutela.services import (
    audit,
    incident_notices,
    incident_reports,
    incidents,
    tenants,
    vault,
)
from tutela.services.incidents import Changes
from tutela.settings import Settings

SUMMARY = "An old backup of the shop database was readable from the internet for two days."
EMAIL, PURCHASES = "user.contact.email", "user.behavior.purchase_history"


def register(
    rt: Runtime, tenant: str = "default", language: str | None = None, **fields: str
) -> str:
    values = {k.replace("__", "."): v for k, v in fields.items()}
    sid = vault.register(rt.ctx, rt.operator(tenant), values).id
    if language is not None:
        with rt.engine.begin() as conn:
            conn.execute(update(subjects).where(subjects.c.id == sid).values(language=language))
    return sid


def people(rt: Runtime) -> dict[str, str]:
    """Five fictional subjects: two affected with email, one affected without, one not
    affected, one erased."""
    found = {
        "ada": register(
            rt,
            user__contact__email="ada@example.com",
            user__behavior__purchase_history="licence 2024",
        ),
        "bob": register(rt, language="en", user__contact__email="bob@example.com"),
        "cy": register(rt, user__account__username="cy", user__behavior__purchase_history="x"),
        "dee": register(rt, user__account__username="dee"),
        "eve": register(rt, user__contact__email="eve@example.com"),
    }
    vault.erase(rt.ctx, rt.operator(), found["eve"], "test")
    return found


def opened(rt: Runtime, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "summary": SUMMARY,
        "categories": [EMAIL, PURCHASES],
        "aware_at": "2026-03-06T09:30:00Z",
        "measures": ["The backup was deleted and the bucket closed."],
        "advice": ["Be careful with mails that ask you to log in."],
    }
    values.update(changes)
    return incidents.open_incident(rt.ctx, rt.operator(), Changes(**values))  # type: ignore[arg-type]


def wait_for_mail(sink: SmtpSink, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(sink.messages) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_open_records_the_incident_with_its_clocks_and_audits_without_texts(
    runtime: Runtime,
) -> None:
    people(runtime)
    data = opened(runtime, began_at="2026-03-04T00:00:00+01:00", kinds=["confidentiality"])
    assert data["state"] == "open"
    assert data["aware_at"] == "2026-03-06T09:30:00Z"
    assert data["began_at"] == "2026-03-03T23:00:00Z"
    assert data["approx_subjects"] == 3  # counted in the vault: ada, bob, cy
    assert [(c["clock"], c["due"]) for c in data["clocks"]] == [  # type: ignore[index]
        ("gdpr.authority", "2026-03-09T09:30:00Z"),
        ("gdpr.subjects", "2026-03-09T09:30:00Z"),
    ]
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.details).where(
                audit_log.c.action.like("incident.%")
            )
        ).all()
    assert [r.action for r in rows] == ["incident.open"]
    assert "backup" not in rows[0].details
    assert audit.verify(runtime.ctx, runtime.operator()).ok
    shown = incidents.show(runtime.ctx, runtime.operator(), str(data["id"]))
    assert shown["timeline"][0]["kind"] == "open"
    assert shown["affected"] == 3


def test_bad_input_is_refused_with_the_way_to_fix_it(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match=r"did you mean user\.contact\.email"):
        opened(runtime, categories=["user.contact.emial"])
    with pytest.raises(InvalidInput, match="ISO 8601"):
        opened(runtime, aware_at="yesterday")
    with pytest.raises(InvalidInput, match="in the future"):
        opened(runtime, aware_at="2999-01-01T00:00:00Z")
    with pytest.raises(InvalidInput, match="cannot begin after"):
        opened(runtime, began_at="2026-03-07T00:00:00Z")
    with pytest.raises(InvalidInput, match="kind"):
        opened(runtime, kinds=["leak"])
    with pytest.raises(NotFound, match="no tenant"):
        opened(runtime, tenants=["default", "nobody"])


def test_affected_subjects_are_counted_without_values_and_listed_by_id(runtime: Runtime) -> None:
    found = people(runtime)
    data = opened(runtime, categories=["user.contact"])  # a broader key covers the email
    result = incidents.affected(runtime.ctx, runtime.operator(), str(data["id"]), with_ids=True)
    assert result["count"] == 2
    assert {s["subject_id"] for s in result["subjects"]} == {found["ada"], found["bob"]}
    assert all(s["categories"] == [EMAIL] for s in result["subjects"])
    assert "ada@example.com" not in json.dumps(result)


def test_other_tenants_only_for_the_operator(runtime: Runtime) -> None:
    op = runtime.operator()
    tenants.create_tenant(runtime.ctx, op, "acme", "Acme")
    register(runtime, "acme", user__contact__email="ada@example.com")
    data = opened(runtime, tenants=["default", "acme"])
    assert incidents.affected(runtime.ctx, op, str(data["id"]))["tenants"] == {
        "default": 0,
        "acme": 1,
    }
    dpo = Principal("default", frozenset({"dpo"}), "key:test")
    with pytest.raises(Forbidden, match="tenant acme"):
        incidents.open_incident(runtime.ctx, dpo, Changes(summary="x", tenants=["default", "acme"]))
    with pytest.raises(NotFound):
        incidents.show(runtime.ctx, runtime.operator("acme"), str(data["id"]))
    app = Principal("default", frozenset({"app"}), "key:app")
    with pytest.raises(Forbidden):
        incidents.listing(runtime.ctx, app)


def test_notices_in_each_subjects_language_once_and_never_to_the_erased(
    mail_runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    rt = mail_runtime
    found = people(rt)
    iid = str(opened(rt)["id"])
    with pytest.raises(Conflict, match="assess the risk first"):
        incident_notices.notify(rt.ctx, rt.operator(), iid)
    incidents.assess(rt.ctx, rt.operator(), iid, "likely", "high", [], "readable by anyone")
    result = incident_notices.notify(rt.ctx, rt.operator(), iid)
    assert (result["queued"], result["without_email"]) == (2, 1)
    wait_for_mail(smtp_sink, 2)
    by_address = {str(m["To"]): m for m in smtp_sink.messages}
    assert set(by_address) == {"ada@example.com", "bob@example.com"}  # eve was erased
    german = by_address["ada@example.com"]
    english = by_address["bob@example.com"]
    assert str(english["Subject"]) == "Beispiel Software GmbH: Notice of Data Breach"
    body = english.get_content()
    for heading in ("What Happened", "What Information Was Involved", "What We Are Doing"):
        assert heading in body
    assert SUMMARY in body
    assert "- email address" in body
    assert "purchase history" not in body  # bob has no purchase history
    assert "The backup was deleted" in body
    assert "dpo@example.com" in body
    assert "March 6, 2026" in body
    assert str(german["Subject"]) == "Beispiel Software GmbH: Benachrichtigung über eine Datenpanne"
    text = german.get_content()
    assert "Was ist passiert" in text
    assert "E-Mail-Adresse" in text
    assert "Kaufhistorie" in text
    assert "6. März 2026" in text

    again = incident_notices.notify(rt.ctx, rt.operator(), iid)
    assert (again["queued"], again["without_email"]) == (0, 0)
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 2
    with rt.engine.connect() as conn:
        keys = (
            conn.execute(select(outbox.c.idempotency_key).where(outbox.c.kind == "incident.notice"))
            .scalars()
            .all()
        )
    assert sorted(keys) == sorted(
        f"incident:{iid}:default:{found[name]}" for name in ("ada", "bob")
    )
    shown = incidents.show(rt.ctx, rt.operator(), iid)
    assert shown["notices"] == {"queued": 2, "no_email": 1}
    subjects_clock = next(c for c in shown["clocks"] if c["clock"] == "gdpr.subjects")
    assert subjects_clock["met_at"] is not None


def test_closing_needs_every_clock_met_or_the_reasons_for_the_delay(
    mail_runtime: Runtime,
) -> None:
    rt = mail_runtime
    people(rt)
    op = rt.operator()
    iid = str(opened(rt)["id"])
    with pytest.raises(Conflict, match="no risk assessment"):
        incidents.close(rt.ctx, op, iid)
    incidents.assess(rt.ctx, op, iid, "likely", "high", [], "readable by anyone")
    incident_notices.notify(rt.ctx, op, iid)
    with pytest.raises(Conflict, match=r"gdpr\.authority: the authority has not been told"):
        incidents.close(rt.ctx, op, iid)
    incidents.authority_notified(rt.ctx, op, iid, None, "2026-03-10T10:00:00Z")
    with pytest.raises(Conflict, match=r"gdpr\.authority: met late") as refused:
        incidents.close(rt.ctx, op, iid)
    assert "gdpr.authority: met late" in refused.value.details["problems"][0]
    incidents.delay(rt.ctx, op, iid, "gdpr.authority", "forensics took four days")
    incidents.delay(rt.ctx, op, iid, "gdpr.subjects", "the notices waited for the forensics")
    closed = incidents.close(rt.ctx, op, iid)
    assert closed["state"] == "closed"
    with pytest.raises(Conflict, match="closed"):
        incidents.note(rt.ctx, op, iid, "too late")
    assert incidents.listing(rt.ctx, op) == []
    assert [i["id"] for i in incidents.listing(rt.ctx, op, include_closed=True)] == [iid]
    actions = [e["action"] for e in audit.entries(rt.ctx, op, subject_id=None, after=0, limit=1000)]
    assert actions.count("incident.delay") == 2
    assert "incident.close" in actions


def test_an_encrypted_breach_with_a_safe_key_needs_no_subject_notice(runtime: Runtime) -> None:
    op = runtime.operator()
    iid = str(opened(runtime)["id"])
    with pytest.raises(InvalidInput, match="update --encrypted"):
        incidents.assess(runtime.ctx, op, iid, "likely", "high", ["encrypted"], "AES-256")
    incidents.update(runtime.ctx, op, iid, Changes(encrypted=True))
    data = incidents.assess(runtime.ctx, op, iid, "likely", "high", ["encrypted"], "AES-256")
    assert [c["clock"] for c in data["clocks"]] == ["gdpr.authority"]
    assert "34(3)(a)" in data["stopped_clocks"][0]["not_required"]
    with pytest.raises(Conflict, match="relies on the data being encrypted"):
        incidents.update(runtime.ctx, op, iid, Changes(encrypted=False))
    low = incidents.assess(runtime.ctx, op, iid, "unlikely", "low", [], "nothing readable")
    assert low["clocks"] == []  # art. 33(1): no report needed either
    incidents.close(runtime.ctx, op, iid)


def test_the_list_shows_overdue_incidents_first(runtime: Runtime) -> None:
    op = runtime.operator()
    recent = str(opened(runtime, aware_at=None)["id"])  # aware now: 72 hours left
    old = str(opened(runtime, aware_at="2026-01-02T08:00:00Z")["id"])
    assessed = str(opened(runtime, aware_at="2025-12-01T08:00:00Z")["id"])
    incidents.assess(runtime.ctx, op, assessed, "unlikely", "low", [], "nothing readable")
    listed = incidents.listing(runtime.ctx, op)
    assert [i["id"] for i in listed] == [old, recent, assessed]
    assert listed[0]["clocks"][0]["status"] == "overdue"
    assert listed[0]["clocks"][0]["seconds_left"] < 0
    assert listed[1]["clocks"][0]["seconds_left"] > 71 * 3600


def test_report_in_two_languages_and_three_formats(runtime: Runtime) -> None:
    people(runtime)
    op = runtime.operator()
    iid = str(
        opened(
            runtime,
            summary="<script>alert(1)</script> bucket left open",
            consequences="Phishing mails to the addresses are possible.",
            approx_records=1200,
        )["id"]
    )
    incidents.assess(runtime.ctx, op, iid, "likely", "high", [], "readable by anyone")
    english = incident_reports.render(runtime.ctx, op, iid, "md", "en")
    assert english.startswith("# Personal data breach notification")
    assert "dpo@example.com" in english
    assert "March 6, 2026" in english
    assert "| 1200 |" not in english
    assert "Approximate number of records: 1200" in english
    assert "email address (`user.contact.email`)" in english
    assert "Phishing mails" in english
    assert "initial notification" in english
    german = incident_reports.render(runtime.ctx, op, iid, "md")  # the declared default: de
    assert german.startswith("# Meldung einer Verletzung des Schutzes personenbezogener Daten")
    assert "6. März 2026" in german
    assert "E-Mail-Adresse" in german
    html = incident_reports.render(runtime.ctx, op, iid, "html", "de")
    assert html.startswith("<!doctype html>")
    assert '<html lang="de">' in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    data = json.loads(incident_reports.render(runtime.ctx, op, iid, "json", "en"))
    assert data["subjects"]["counted"] == 3
    assert data["organization"]["dpo"] == {
        "name": "Data Protection Officer",
        "email": "dpo@example.com",
    }
    assert data["clocks"][0]["due_iso"] == "2026-03-09T09:30:00Z"
    with pytest.raises(InvalidInput, match="report language"):
        incident_reports.render(runtime.ctx, op, iid, "md", "fr")
    with pytest.raises(InvalidInput, match="format"):
        incident_reports.render(runtime.ctx, op, iid, "pdf")
    incidents.authority_notified(runtime.ctx, op, iid, "gdpr", None, "initial", "DE-2026-17")
    follow_up = incident_reports.render(runtime.ctx, op, iid, "md", "en")
    assert "follow-up notification" in follow_up
    assert "## Earlier notifications" in follow_up


def test_a_database_dataset_named_brings_the_categories_its_file_declares(
    settings: Settings,
) -> None:
    initialize(settings, EXAMPLES / "fides-shop" / "tutela.yaml")
    rt = open_runtime(settings)
    try:
        op = rt.operator()
        ada = vault.register(rt.ctx, op, {EMAIL: "ada@example.com"}).id
        data = incidents.open_incident(
            rt.ctx,
            op,
            Changes(
                summary="The shop's database copy was readable",
                datasets=["postgres_example_test_dataset"],
                aware_at="2026-03-06T09:30:00Z",
            ),
        )
        result = incidents.affected(rt.ctx, op, str(data["id"]), with_ids=True)
        assert result["count"] == 1
        assert result["subjects"][0]["subject_id"] == ada
        assert EMAIL in result["subjects"][0]["categories"]
    finally:
        rt.close()
