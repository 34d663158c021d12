"""``tutela incidents`` as an operator runs it: the ``open --json`` contract, the workflow to
closing, the report files, and clean failures."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.test_cli import DESKTOP, assert_clean_failure, ok_json, tutela

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
INCIDENT_KEYS = {
    "id",
    "tenant",
    "state",
    "summary",
    "kinds",
    "aware_at",
    "began_at",
    "tenants",
    "categories",
    "datasets",
    "approx_subjects",
    "approx_records",
    "encrypted",
    "consequences",
    "measures",
    "advice",
    "assessment",
    "clocks",
    "stopped_clocks",
    "created_at",
    "created_by",
    "updated_at",
    "closed_at",
}
CLOCK_KEYS = {
    "clock",
    "jurisdiction",
    "audience",
    "status",
    "due",
    "seconds_left",
    "binding",
    "standard",
    "source",
    "met_at",
    "public_communication",
    "not_required",
    "delay_reason",
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("incidents") / "data"
    assert tutela(data_dir, "init", "--declarations", str(DESKTOP)).returncode == 0
    ok_json(data_dir, "subjects", "add", "--email", "ada@example.com")
    ok_json(data_dir, "subjects", "add", "--field", "user.account.username=bob")
    return data_dir


@pytest.fixture
def data_dir(prepared: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(prepared, copy)
    return copy


def test_open_prints_the_incident_and_every_running_clock_in_utc(data_dir: Path) -> None:
    opened = ok_json(
        data_dir,
        "incidents",
        "open",
        "--summary",
        "Support mailbox forwarded to an unknown address",
        "--category",
        "user.contact.email",
        "--tenant",
        "default",
        "--aware-at",
        "2026-03-06T10:30:00+01:00",
        "--began-at",
        "2026-03-05T22:00:00Z",
    )
    assert isinstance(opened, dict)
    assert set(opened) == INCIDENT_KEYS
    assert UUID.match(opened["id"])
    assert opened["state"] == "open"
    assert opened["aware_at"] == "2026-03-06T09:30:00Z"
    assert opened["began_at"] == "2026-03-05T22:00:00Z"
    assert opened["categories"] == ["user.contact.email"]
    assert opened["tenants"] == ["default"]
    assert opened["approx_subjects"] == 1
    assert opened["assessment"] is None
    clocks = {c["clock"]: c for c in opened["clocks"]}
    assert list(clocks) == ["gdpr.authority", "gdpr.subjects"]
    for clock in clocks.values():
        assert set(clock) == CLOCK_KEYS
        assert ISO_UTC.match(clock["due"])
        assert isinstance(clock["seconds_left"], int)
    assert clocks["gdpr.authority"]["due"] == "2026-03-09T09:30:00Z"  # aware-at + 72 h
    assert clocks["gdpr.authority"]["binding"] is True
    assert opened["stopped_clocks"] == []
    for stamp in ("created_at", "updated_at"):
        assert ISO_UTC.match(opened[stamp])


def test_from_opening_to_closing(data_dir: Path, tmp_path: Path) -> None:
    opened = ok_json(
        data_dir,
        "incidents",
        "open",
        "--summary",
        "Laptop with an unencrypted export stolen",
        "--category",
        "user.contact",
        "--aware-at",
        "2026-03-06T09:30:00Z",
        "--measure",
        "Remote wipe requested",
        "--advice",
        "Watch for phishing mails",
    )
    assert isinstance(opened, dict)
    iid = opened["id"]
    listed = ok_json(data_dir, "incidents", "list")
    assert isinstance(listed, list)
    assert [i["id"] for i in listed] == [iid]
    assert listed[0]["clocks"][0]["status"] == "overdue"
    human = tutela(data_dir, "incidents", "list")
    assert "overdue" in human.stdout

    refused = tutela(data_dir, "incidents", "close", iid)
    assert_clean_failure(refused, 1)
    assert "no risk assessment" in refused.stderr

    ok_json(
        data_dir,
        "incidents",
        "assess",
        iid,
        "--likelihood",
        "likely",
        "--severity",
        "high",
        "--reason",
        "Email addresses in clear text",
    )
    told = ok_json(data_dir, "incidents", "notify", iid)
    assert isinstance(told, dict)
    assert (told["queued"], told["without_email"]) == (1, 0)
    again = ok_json(data_dir, "incidents", "notify", iid)
    assert isinstance(again, dict)
    assert again["queued"] == 0
    affected = ok_json(data_dir, "incidents", "affected", iid, "--ids")
    assert isinstance(affected, dict)
    assert affected["count"] == 1
    assert "ada@example.com" not in json.dumps(affected)

    ok_json(
        data_dir,
        "incidents",
        "authority-notified",
        iid,
        "--at",
        "2026-03-10T08:00:00Z",
        "--reference",
        "LDA-2026-0042",
    )
    report = tmp_path / "report.html"
    written = tutela(
        data_dir, "incidents", "report", iid, "--format", "html", "--lang", "de", "-o", str(report)
    )
    assert written.returncode == 0, written.stderr
    html = report.read_text(encoding="utf-8")
    assert "Meldung einer Verletzung des Schutzes personenbezogener Daten" in html
    assert "dpo@example.com" in html
    markdown = tutela(data_dir, "incidents", "report", iid, "--lang", "en")
    assert markdown.stdout.startswith("# Personal data breach notification")

    late = tutela(data_dir, "incidents", "close", iid)
    assert_clean_failure(late, 1)
    assert "gdpr.authority: met late" in late.stderr
    for clock in ("gdpr.authority", "gdpr.subjects"):
        ok_json(data_dir, "incidents", "delay", iid, "--clock", clock, "--reason", "forensics")
    ok_json(data_dir, "incidents", "note", iid, "--text", "Wipe confirmed by the vendor")
    closed = ok_json(data_dir, "incidents", "close", iid)
    assert isinstance(closed, dict)
    assert closed["state"] == "closed"
    shown = ok_json(data_dir, "incidents", "show", iid)
    assert isinstance(shown, dict)
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[0] == "open"
    assert kinds[-1] == "close"
    assert {"assess", "notify", "authority_notified", "delay", "note"} <= set(kinds)
    assert ok_json(data_dir, "incidents", "list") == []
    verified = tutela(data_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stdout


def test_update_public_notice_and_bad_input(data_dir: Path) -> None:
    opened = ok_json(data_dir, "incidents", "open", "--summary", "Newsletter list exposed")
    assert isinstance(opened, dict)
    iid = opened["id"]
    updated = ok_json(
        data_dir,
        "incidents",
        "update",
        iid,
        "--category",
        "user.contact.email",
        "--subjects",
        "40000",
        "--encrypted",
        "--kind",
        "confidentiality",
    )
    assert isinstance(updated, dict)
    assert updated["approx_subjects"] == 40000
    assert updated["encrypted"] is True
    ok_json(
        data_dir,
        "incidents",
        "assess",
        iid,
        "--likelihood",
        "likely",
        "--severity",
        "high",
        "--exempt",
        "disproportionate",
        "--reason",
        "No contact data for most of the list",
    )
    public = ok_json(
        data_dir, "incidents", "public-notice", iid, "--where", "Banner on www.example.com"
    )
    assert isinstance(public, dict)
    subjects = next(c for c in public["clocks"] if c["clock"] == "gdpr.subjects")
    assert subjects["public_communication"] is True
    assert subjects["met_at"] is not None

    bad_time = tutela(data_dir, "incidents", "open", "--summary", "x", "--aware-at", "soon")
    assert_clean_failure(bad_time, 1)
    assert "ISO 8601" in bad_time.stderr
    bad_category = tutela(
        data_dir, "incidents", "open", "--summary", "x", "--category", "user.contact.emial"
    )
    assert_clean_failure(bad_category, 1)
    assert "did you mean user.contact.email" in bad_category.stderr
    unknown = tutela(data_dir, "incidents", "show", "no-such-incident")
    assert_clean_failure(unknown, 1)
    missing = tutela(data_dir, "incidents", "open")
    assert_clean_failure(missing, 2)
