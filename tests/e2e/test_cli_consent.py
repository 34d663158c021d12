"""`tutela consent` and `tutela receipts`, run in subprocesses as an operator would run them.

Declarations: examples/desktop-vendor.yml, where `user_counting` is based on consent,
`account` on the contract, and the minimum age is 18.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "examples" / "desktop-vendor.yml"
MISSING_ID = "00000000-0000-0000-0000-000000000000"


def tutela_executable() -> str:
    beside = Path(sys.executable).parent / "tutela"
    found = str(beside) if beside.exists() else shutil.which("tutela")
    if found is None:
        pytest.skip("the tutela console script is not installed")
    return found


TUTELA = tutela_executable()


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env.update(
        {
            "TUTELA_ARGON2_MEMORY_KIB": "1024",
            "TUTELA_ARGON2_TIME_COST": "1",
            "TUTELA_DATA_DIR": str(data_dir),
        }
    )
    return subprocess.run(
        [TUTELA, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=data_dir.parent,
    )


def ok_json(data_dir: Path, *args: str) -> Any:
    result = run(data_dir, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The error message of a clean failure with this exit code."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def years_ago(years: int) -> str:
    today = dt.date.today()
    if today.month == 2 and today.day == 29:
        today = today - dt.timedelta(days=1)
    return today.replace(year=today.year - years).isoformat()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory; every test registers its own subjects."""
    directory = tmp_path_factory.mktemp("consent-cli") / "data"
    result = run(directory, "init", "--declarations", str(DESKTOP))
    assert result.returncode == 0, result.stderr
    return directory


def add_subject(data_dir: Path, email: str, *options: str) -> str:
    subject = ok_json(data_dir, "subjects", "add", "--email", email, *options)
    return str(subject["id"])


def check(data_dir: Path, subject_id: str, purpose: str) -> dict[str, Any]:
    decision = ok_json(data_dir, "consent", "check", subject_id, purpose)
    assert decision["explanation"]
    return {k: decision[k] for k in ("allowed", "reason")}


def test_grant_check_and_withdraw_everything(data_dir: Path) -> None:
    sid = add_subject(data_dir, "ada.quill@example.com", "--birth-date", "1990-01-02")
    assert check(data_dir, sid, "user_counting") == {"allowed": False, "reason": "no_consent"}

    granted = ok_json(data_dir, "consent", "grant", sid, "user_counting")
    assert [(e["purpose"], e["action"], e["by"]) for e in granted] == [
        ("user_counting", "grant", "subject")
    ]
    assert granted[0]["receipt"].count(".") == 2
    assert check(data_dir, sid, "user_counting") == {"allowed": True, "reason": "consent"}

    withdrawn = ok_json(data_dir, "consent", "withdraw", sid)  # no purposes: all of them
    assert [(e["purpose"], e["action"]) for e in withdrawn] == [("user_counting", "withdraw")]
    assert check(data_dir, sid, "user_counting") == {
        "allowed": False,
        "reason": "consent_withdrawn",
    }
    assert ok_json(data_dir, "consent", "withdraw", sid) == []  # nothing left to withdraw


def test_contract_and_unknown_purposes_are_refused_and_nothing_is_recorded(
    data_dir: Path,
) -> None:
    sid = add_subject(data_dir, "bo.marsh@example.com")
    message = fails(run(data_dir, "consent", "grant", sid, "account"), 1)
    assert "account: based on contract, not consent" in message
    message = fails(run(data_dir, "consent", "grant", sid, "user_countng"), 1)
    assert "not a declared purpose" in message
    assert "did you mean user_counting?" in message
    # one bad purpose stops the whole command
    fails(run(data_dir, "consent", "grant", sid, "user_counting", "account"), 1)
    assert ok_json(data_dir, "consent", "show", sid)["events"] == []


def test_a_minor_needs_a_verified_guardian(data_dir: Path) -> None:
    sid = add_subject(data_dir, "kim.marsh@example.com", "--birth-date", years_ago(15))
    message = fails(run(data_dir, "consent", "grant", sid, "user_counting"), 1)
    assert "minor" in message
    assert "guardian" in message

    guardian = ("--guardian-email", "erin.marsh@example.com")
    fails(run(data_dir, "consent", "grant", sid, "user_counting", *guardian), 2)
    fails(run(data_dir, "consent", "grant", sid, "user_counting", "--verified-by", "id"), 2)
    assert check(data_dir, sid, "user_counting") == {"allowed": False, "reason": "no_consent"}

    events = ok_json(
        data_dir,
        "consent",
        "grant",
        sid,
        "user_counting",
        *guardian,
        "--verified-by",
        "id_document",
    )
    assert [(e["by"], e["method"], e["guardian_verified_by"]) for e in events] == [
        ("guardian", "guardian", "id_document")
    ]
    assert "erin.marsh" not in json.dumps(events)  # the guardian's email is never echoed
    assert check(data_dir, sid, "user_counting") == {"allowed": True, "reason": "consent"}
    assert ok_json(data_dir, "consent", "show", sid)["minor_until"] > dt.date.today().isoformat()


def test_a_claimed_age_makes_a_minor(data_dir: Path) -> None:
    sid = add_subject(data_dir, "lou.marsh@example.com", "--age", "15")
    assert "guardian" in fails(run(data_dir, "consent", "grant", sid, "user_counting"), 1)


def test_show_lists_every_declared_purpose(data_dir: Path) -> None:
    declared = yaml.safe_load(DESKTOP.read_text(encoding="utf-8"))["purposes"]
    sid = add_subject(data_dir, "mo.reed@example.com")
    shown = ok_json(data_dir, "consent", "show", sid)
    assert shown["subject_id"] == sid
    assert shown["minor_until"] is None
    rows = {p["purpose"]: p for p in shown["purposes"]}
    assert list(rows) == [p["key"] for p in declared]
    for purpose in declared:
        row = rows[purpose["key"]]
        assert row["legal_basis"] == purpose["legal_basis"]
        if purpose["legal_basis"] == "consent":
            assert (row["state"], row["allowed"], row["reason"]) == ("none", False, "no_consent")
        else:
            assert (row["state"], row["allowed"], row["reason"]) == (
                None,
                True,
                purpose["legal_basis"],
            )


def test_receipts_verify_offline_and_detect_tampering(data_dir: Path, tmp_path: Path) -> None:
    sid = add_subject(data_dir, "nia.reed@example.com")
    record_id = ok_json(data_dir, "consent", "grant", sid, "user_counting")[0]["id"]

    shown = run(data_dir, "receipts", "show", record_id)
    assert shown.returncode == 0, shown.stderr
    token = shown.stdout.strip()
    receipt = tmp_path / "receipt.jws"
    receipt.write_text(shown.stdout)
    verified = run(data_dir, "receipts", "verify", str(receipt))
    assert verified.returncode == 0, verified.stderr
    assert f"valid: receipt {record_id}" in verified.stdout

    keys = run(data_dir, "receipts", "keys")
    assert keys.returncode == 0, keys.stderr
    jwks = tmp_path / "jwks.json"
    jwks.write_text(keys.stdout)
    assert [k["crv"] for k in json.loads(keys.stdout)["keys"]] == ["Ed25519"]
    # with the published keys, no data directory is needed at all
    elsewhere = tmp_path / "no-data-here"
    offline = ok_json(elsewhere, "receipts", "verify", str(receipt), "--jwks", str(jwks))
    assert offline["valid"] is True
    assert offline["receipt"]["record_id"] == record_id
    assert offline["receipt"]["subject_id"] == sid
    assert offline["receipt"]["event"]["state"] == "given"
    assert not elsewhere.exists()

    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    changed = "B" if payload[middle] == "A" else "A"
    tampered = tmp_path / "tampered.jws"
    tampered.write_text(f"{header}.{payload[:middle]}{changed}{payload[middle + 1 :]}.{signature}")
    message = fails(run(data_dir, "receipts", "verify", str(tampered), "--jwks", str(jwks)), 1)
    assert "does not match" in message

    wrapped = tmp_path / "receipt.json"
    wrapped.write_text(json.dumps({"receipt": token}))
    assert run(data_dir, "receipts", "verify", str(wrapped), "--jwks", str(jwks)).returncode == 0
    as_json = tmp_path / "shown.json"
    as_json.write_text(json.dumps(ok_json(data_dir, "receipts", "show", record_id)))
    assert run(data_dir, "receipts", "verify", str(as_json)).returncode == 0


def test_unknown_subject(data_dir: Path) -> None:
    message = fails(run(data_dir, "consent", "grant", MISSING_ID, "user_counting"), 1)
    assert f"no subject {MISSING_ID}" in message
    fails(run(data_dir, "consent", "show", MISSING_ID), 1)
    fails(run(data_dir, "consent", "withdraw", MISSING_ID), 1)
    fails(run(data_dir, "receipts", "show", MISSING_ID), 1)
    # a check answers instead of failing
    assert check(data_dir, MISSING_ID, "user_counting") == {
        "allowed": False,
        "reason": "unknown_subject",
    }
