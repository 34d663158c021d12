"""Purpose endings: retention rules counted from ``purpose_ended`` start when the privacy
officer records that the purpose ended, for one subject or for the whole tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import DESKTOP
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.errors import InvalidInput, NotFound
from tutela.domain.subjects import iso
from tutela.entrypoints.api import create_app
from tutela.entrypoints.cli import app as cli
from tutela.services import audit, purpose_endings, retention, vault
from tutela.settings import Settings

DAY = 86400 * 1_000_000
IP = "user.device.ip_address"  # only security_logs uses it: here P90D after purpose_ended


@pytest.fixture
def ended(settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    text = DESKTOP.read_text(encoding="utf-8").replace(
        "retention: {keep: P90D, after: collected, then: delete}",
        "retention: {keep: P90D, after: purpose_ended, then: delete}",
    )
    assert "after: purpose_ended" in text
    declarations = tmp_path / "ended.yml"
    declarations.write_text(text, encoding="utf-8")
    result = initialize(settings, declarations)
    rt = open_runtime(settings)
    rt.notes.append(result.admin_key or "")
    real = rt.ctx.clock
    shift = [0]
    rt.ctx.clock = lambda: real() + shift[0] * DAY
    rt.extras_shift = shift  # type: ignore[attr-defined]
    try:
        yield rt
    finally:
        rt.close()


def at_day(rt: Runtime, day: int) -> None:
    rt.extras_shift[0] = day  # type: ignore[attr-defined]


def due(rt: Runtime) -> dict[str, int]:
    found = retention.run(rt.ctx, rt.operator(), apply=False)
    return {d["category"]: d["fields"] for d in found["due"]}


def register(rt: Runtime, email: str) -> str:
    fields = {"user.contact.email": email, IP: "192.0.2.7"}
    return vault.register(rt.ctx, rt.operator(), fields).id


def test_a_rule_counted_from_an_ending_waits_for_it(ended: Runtime) -> None:
    register(ended, "a@example.com")
    at_day(ended, 1000)
    assert IP not in due(ended)  # no ending recorded: the rule has not started


def test_a_tenant_wide_ending_starts_every_subjects_period(ended: Runtime) -> None:
    register(ended, "a@example.com")
    register(ended, "b@example.com")
    at_day(ended, 10)
    who = ended.operator()
    result = purpose_endings.end_purpose(ended.ctx, who, "security_logs")
    assert (result["scope"], result["starts_retention"], result["note"]) == (
        "tenant",
        True,
        None,
    )
    at_day(ended, 99)
    assert IP not in due(ended)
    at_day(ended, 101)
    assert due(ended)[IP] == 2
    retention.run(ended.ctx, who, apply=True)
    assert IP not in due(ended)


def test_a_subjects_own_earlier_ending_counts_for_that_subject(ended: Runtime) -> None:
    early = register(ended, "early@example.com")
    late = register(ended, "late@example.com")
    who = ended.operator()
    at_day(ended, 50)
    purpose_endings.end_purpose(ended.ctx, who, "security_logs")  # day 50 for everyone
    day5 = iso(ended.ctx.clock() - 45 * DAY)
    purpose_endings.end_purpose(ended.ctx, who, "security_logs", subject_id=early, at=day5)
    at_day(ended, 96)
    assert due(ended) == {IP: 1}
    retention.run(ended.ctx, who, apply=True)
    assert IP not in vault.read(ended.ctx, who, early).fields
    assert IP in vault.read(ended.ctx, who, late).fields


def test_recording_again_replaces_and_is_audited(ended: Runtime) -> None:
    who = ended.operator()
    first = purpose_endings.end_purpose(ended.ctx, who, "security_logs", at="2026-01-31")
    assert first["previous"] is None
    assert first["ended_at"] == "2026-01-31T00:00:00Z"
    second = purpose_endings.end_purpose(
        ended.ctx, who, "security_logs", at="2026-02-01T12:00:00+02:00"
    )
    assert second["previous"] == "2026-01-31T00:00:00Z"
    assert second["ended_at"] == "2026-02-01T10:00:00Z"
    entries = audit.entries(ended.ctx, who, subject_id=None, after=0, limit=1000)
    endings = [e for e in entries if e["action"] == "purpose.end"]
    assert [e["details"]["previous"] for e in endings] == [None, "2026-01-31T00:00:00Z"]


def test_bad_input_is_refused_with_the_reason(ended: Runtime) -> None:
    who = ended.operator()
    with pytest.raises(InvalidInput, match="not a declared purpose"):
        purpose_endings.end_purpose(ended.ctx, who, "securitylogs")
    with pytest.raises(InvalidInput, match="not an ISO 8601 time"):
        purpose_endings.end_purpose(ended.ctx, who, "security_logs", at="yesterday")
    with pytest.raises(InvalidInput, match="in the future"):
        purpose_endings.end_purpose(ended.ctx, who, "security_logs", at="2999-01-01")
    with pytest.raises(NotFound):
        purpose_endings.end_purpose(ended.ctx, who, "security_logs", subject_id="nobody")
    note = purpose_endings.end_purpose(ended.ctx, who, "support")["note"]
    assert "not counted from purpose_ended but from collected" in note


def test_over_http_with_the_dpo_scope(ended: Runtime) -> None:
    admin = {"Authorization": f"Bearer {ended.notes[0]}"}
    with TestClient(create_app(runtime=ended), raise_server_exceptions=False) as client:
        keys = {}
        for scope in ("app", "dpo"):
            issued = client.post("/v1/keys", json={"scopes": [scope]}, headers=admin)
            keys[scope] = {"Authorization": f"Bearer {issued.json()['token']}"}
        body = {"purpose": "security_logs", "at": "2026-03-01"}
        denied = client.post("/v1/retention/purpose-endings", json=body, headers=keys["app"])
        assert denied.status_code == 403
        made = client.post("/v1/retention/purpose-endings", json=body, headers=keys["dpo"])
        assert made.status_code == 201, made.text
        assert made.json()["ended_at"] == "2026-03-01T00:00:00Z"
        bad = client.post(
            "/v1/retention/purpose-endings", json={"purpose": "nope"}, headers=keys["dpo"]
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_input"


def test_from_the_command_line(ended: Runtime) -> None:
    runner = CliRunner()
    env = {"TUTELA_DATA_DIR": str(ended.settings.data_dir)}
    if ended.settings.database_url.startswith("postgresql"):
        env["TUTELA_DATABASE_URL"] = ended.settings.database_url
    done = runner.invoke(
        cli, ["retention", "end-purpose", "security_logs", "--at", "2026-04-30", "--json"], env=env
    )
    assert done.exit_code == 0, done.output
    assert '"ended_at": "2026-04-30T00:00:00Z"' in done.output
    human = runner.invoke(cli, ["retention", "end-purpose", "support"], env=env)
    assert human.exit_code == 0, human.output
    assert "support ended for every subject of default" in human.output
    assert "note:" in human.output
