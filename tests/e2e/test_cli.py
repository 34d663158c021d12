"""The installed ``tutela`` command, run in subprocesses as an operator would run it."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DESKTOP = EXAMPLES / "desktop-vendor.yml"
KEY = re.compile(r"tut_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>\S+): (?P<message>.+); (?P<fix>.+)$")


def tutela_executable() -> str:
    beside = Path(sys.executable).parent / "tutela"
    found = str(beside) if beside.exists() else shutil.which("tutela")
    if found is None:
        pytest.skip("the tutela console script is not installed")
    return found


TUTELA = tutela_executable()


def base_env(data_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env.update({"TUTELA_ARGON2_MEMORY_KIB": "1024", "TUTELA_ARGON2_TIME_COST": "1"})
    if data_dir is not None:
        env["TUTELA_DATA_DIR"] = str(data_dir)
    return env


def tutela(
    data_dir: Path | None, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TUTELA, *args],
        env=base_env(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def ok_json(data_dir: Path | None, *args: str, stdin: str | None = None) -> object:
    result = tutela(data_dir, *args, "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


@dataclass(frozen=True)
class Initialised:
    data_dir: Path
    stdout: str


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Initialised:
    """One data directory for the tests that do not care about each other's writes."""
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    result = tutela(data_dir, "init", "--declarations", str(DESKTOP))
    assert result.returncode == 0, result.stderr
    return Initialised(data_dir, result.stdout)


@pytest.fixture
def data_dir(shared: Initialised, tmp_path: Path) -> Path:
    """A private copy of the shared data directory, for tests that change it."""
    copy = tmp_path / "data"
    shutil.copytree(shared.data_dir, copy)
    return copy


def add_subject(data_dir: Path, email: str, username: str, *extra: str) -> dict[str, object]:
    view = ok_json(
        data_dir,
        "subjects",
        "add",
        "--email",
        email,
        "--field",
        f"user.account.username={username}",
        *extra,
    )
    assert isinstance(view, dict)
    return view


# --- init ------------------------------------------------------------------------------


def test_first_init_prints_one_admin_key(shared: Initialised) -> None:
    assert len(KEY.findall(shared.stdout)) == 1
    assert "key ring: created" in shared.stdout
    assert "declarations: loaded" in shared.stdout
    keyring = shared.data_dir / "keyring.json"
    assert keyring.stat().st_mode & 0o777 == 0o600


def test_second_init_prints_no_key_and_keeps_the_data(data_dir: Path) -> None:
    subject = add_subject(data_dir, "rhea.tallow@example.com", "Rhea Tallow")
    ring = (data_dir / "keyring.json").read_bytes()

    again = tutela(data_dir, "init", "--declarations", str(DESKTOP), "--json")
    assert again.returncode == 0, again.stderr
    assert not KEY.search(again.stdout + again.stderr)
    result = json.loads(again.stdout)
    assert result["admin_key"] is None
    assert result["created_keyring"] is False
    assert result["declarations"] == "unchanged"
    assert result["tenants_created"] == []
    assert (data_dir / "keyring.json").read_bytes() == ring

    found = ok_json(data_dir, "subjects", "find", "--email", "rhea.tallow@example.com")
    assert isinstance(found, dict)
    assert found["id"] == subject["id"]
    assert found["fields"]["user.account.username"] == "Rhea Tallow"


def test_data_dir_option_and_uninitialised_directory(shared: Initialised, tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    refused = tutela(empty, "keys", "status")
    assert_clean_failure(refused, 1)
    assert "tutela init" in refused.stderr
    # the option overrides the environment
    status = ok_json(empty, "--data-dir", str(shared.data_dir), "keys", "status")
    assert isinstance(status, dict)
    assert status["active"] == 1


# --- declarations ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["desktop-vendor.yml", "mobile-app.yml", "saas-helpdesk.yml"])
def test_check_accepts_each_example(name: str) -> None:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"examples/{name} is not there yet")
    result = tutela(None, "check", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}: ok" in result.stdout


def broken_declarations(tmp_path: Path) -> tuple[Path, int, int]:
    """The desktop example with a misspelt key and a misspelt category; their line numbers."""
    lines = DESKTOP.read_text(encoding="utf-8").splitlines()
    key_line = next(i for i, line in enumerate(lines) if line.startswith("languages:"))
    lines[key_line] = lines[key_line].replace("languages:", "langauges:")
    category_line = next(
        i for i, line in enumerate(lines) if line.strip() == "- user.contact.email"
    )
    lines[category_line] = lines[category_line].replace("user.contact.email", "user.contact.emial")
    path = tmp_path / "broken.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, key_line + 1, category_line + 1


def test_check_reports_problems_with_line_path_and_fix(tmp_path: Path) -> None:
    path, key_line, category_line = broken_declarations(tmp_path)
    result = tutela(None, "check", str(path))
    assert_clean_failure(result, 1)
    problems = [line for line in result.stderr.splitlines() if not line.endswith("found")]
    assert problems
    for line in problems:
        assert PROBLEM.match(line), f"not `file:line: path: message; fix`: {line!r}"
    parsed = [PROBLEM.match(line) for line in problems]
    by_line = {int(m["line"]): m for m in parsed if m}
    assert by_line[key_line]["file"] == str(path)
    assert by_line[key_line]["path"] == "langauges"
    assert "did you mean languages" in by_line[key_line]["fix"]
    assert by_line[category_line]["path"].startswith("purposes[")
    assert "did you mean user.contact.email" in by_line[category_line]["fix"]


def test_check_json_report(tmp_path: Path) -> None:
    path, _, _ = broken_declarations(tmp_path)
    result = tutela(None, "check", "--json", str(path), str(DESKTOP))
    assert_clean_failure(result, 1)
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["files"][str(DESKTOP)] == []
    problems = report["files"][str(path)]
    assert {"file", "line", "path", "message", "fix"} <= set(problems[0])


def test_schema_is_json() -> None:
    result = tutela(None, "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "properties" in schema
    assert "categories" in schema["properties"]


# --- subjects --------------------------------------------------------------------------


def test_subject_round_trip(data_dir: Path) -> None:
    created = add_subject(
        data_dir,
        "Ada.Quill@Example.com",
        "Ada Quill",
        "--birth-date",
        "1990-01-02",
        "--field",
        "user.authorization.password=correct horse battery",
    )
    sid = created["id"]
    assert isinstance(sid, str)
    assert re.fullmatch(r"[0-9a-f-]{36}", sid)
    assert created["status"] == "active"
    assert created["tenant"] == "default"
    assert created["fields"] == {
        "user.account.username": "Ada Quill",
        "user.contact.email": "ada.quill@example.com",
        "user.demographic.date_of_birth": "1990-01-02",
    }
    assert created["hashed_fields"] == ["user.authorization.password"]

    found = ok_json(data_dir, "subjects", "find", "--email", "ADA.QUILL@example.com")
    assert isinstance(found, dict)
    assert found["id"] == sid
    shown = ok_json(data_dir, "subjects", "show", sid)
    assert shown == created

    updated = ok_json(
        data_dir, "subjects", "update", sid, "--field", "user.account.username=Ada Q."
    )
    assert isinstance(updated, dict)
    assert updated["fields"]["user.account.username"] == "Ada Q."
    assert updated["fields"]["user.contact.email"] == "ada.quill@example.com"

    page = ok_json(data_dir, "subjects", "list")
    assert isinstance(page, dict)
    (item,) = [i for i in page["items"] if i["id"] == sid]
    assert "user.authorization.password" in item["field_names"]
    assert "fields" not in item

    verified = ok_json(
        data_dir,
        "subjects",
        "verify",
        sid,
        "--field",
        "user.authorization.password",
        stdin="correct horse battery\n",
    )
    assert verified == {"match": True}

    erased = ok_json(data_dir, "subjects", "erase", sid, "--yes", "--reason", "test")
    assert isinstance(erased, dict)
    assert erased["status"] == "erased"
    after = ok_json(data_dir, "subjects", "show", sid)
    assert isinstance(after, dict)
    assert after["status"] == "erased"
    assert after["fields"] == {}
    assert after["hashed_fields"] == []

    gone = tutela(data_dir, "subjects", "find", "--email", "ada.quill@example.com")
    assert_clean_failure(gone, 1)
    assert gone.stderr.startswith("error: ")


def test_unknown_category_is_refused_with_a_suggestion(shared: Initialised) -> None:
    unknown = tutela(shared.data_dir, "subjects", "add", "--field", "user.favourite_colour=blue")
    assert_clean_failure(unknown, 1)
    assert "user.favourite_colour: not a declared data category" in unknown.stderr
    assert unknown.stdout == ""

    misspelt = tutela(shared.data_dir, "subjects", "add", "--field", "user.acount.username=x")
    assert_clean_failure(misspelt, 1)
    assert "did you mean user.account.username?" in misspelt.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["subjects", "add", "--no-such-option"],
        ["subjects", "find"],
        ["subjects", "no-such-command"],
        ["keys", "retire", "not-a-number"],
    ],
    ids=["unknown-option", "no-identity", "unknown-command", "bad-argument"],
)
def test_usage_errors_exit_2(shared: Initialised, args: list[str]) -> None:
    result = tutela(shared.data_dir, *args)
    assert_clean_failure(result, 2)
    assert result.stderr.strip()


# --- keys ------------------------------------------------------------------------------


def test_rotate_then_retire_old_version_keeps_data_readable(data_dir: Path) -> None:
    subject = add_subject(data_dir, "milo.brandt@example.com", "Milo Brandt")

    rotated = ok_json(data_dir, "keys", "rotate")
    assert isinstance(rotated, dict)
    assert rotated["version"] == 2
    assert rotated["rewrapped"] >= 1
    assert rotated["remaining"] == 0
    assert rotated["status"]["active"] == 2

    assert ok_json(data_dir, "keys", "retire", "1") == {"retired": 1}
    ring = json.loads((data_dir / "keyring.json").read_text())
    assert set(ring["keks"]) == {"2"}
    assert (data_dir / "keyring.json").stat().st_mode & 0o777 == 0o600

    shown = ok_json(data_dir, "subjects", "show", str(subject["id"]))
    assert isinstance(shown, dict)
    assert shown["fields"] == subject["fields"]

    active = tutela(data_dir, "keys", "retire", "2")
    assert_clean_failure(active, 1)


# --- audit -----------------------------------------------------------------------------


def test_audit_verify_names_a_tampered_entry(data_dir: Path) -> None:
    clean = ok_json(data_dir, "audit", "verify")
    assert isinstance(clean, dict)
    assert clean["ok"] is True
    assert clean["entries"] >= 2

    with sqlite3.connect(data_dir / "tutela.db") as db:
        changed = db.execute(
            "UPDATE audit_log SET action='x' WHERE seq=2 AND chain='default'"
        ).rowcount
    assert changed == 1

    tampered = tutela(data_dir, "audit", "verify")
    assert_clean_failure(tampered, 1)
    assert "default #2" in tampered.stderr

    report = tutela(data_dir, "audit", "verify", "--json")
    assert_clean_failure(report, 1)
    problems = json.loads(report.stdout)["problems"]
    assert [(p["chain"], p["seq"]) for p in problems] == [("default", 2)]


# --- protection of the data directory --------------------------------------------------


def test_world_readable_keyring_is_refused(data_dir: Path) -> None:
    (data_dir / "keyring.json").chmod(0o644)
    for args in (["subjects", "list"], ["audit", "verify"]):
        result = tutela(data_dir, *args)
        assert_clean_failure(result, 1)
        assert "chmod 600" in result.stderr
        assert result.stdout == ""


def test_personal_values_never_appear_in_the_data_directory(data_dir: Path) -> None:
    email = "zephyrine.quarrington@example.com"
    name = "Zephyrine Quarrington"
    new_name = "Zephyrine Oakenshield"
    subject = add_subject(data_dir, email, name)
    ok_json(
        data_dir,
        "subjects",
        "update",
        str(subject["id"]),
        "--field",
        f"user.account.username={new_name}",
    )

    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert {"tutela.db", "keys.db", "keyring.json"} <= {p.name for p in files}
    needles = [email, name, new_name, "Quarrington", "Oakenshield", "zephyrine"]
    for path in files:
        content = path.read_bytes().lower()
        for needle in needles:
            assert needle.lower().encode() not in content, f"{needle!r} found in {path.name}"
