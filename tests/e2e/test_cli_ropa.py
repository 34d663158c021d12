"""`tutela ropa`, run in subprocesses as an operator would run it."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPDESK = ROOT / "examples" / "saas-helpdesk.yml"


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).parent / "tutela"
    found = str(beside) if beside.exists() else shutil.which("tutela")
    if found is None:
        pytest.skip("the tutela console script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env.update({"TUTELA_ARGON2_MEMORY_KIB": "1024", "TUTELA_ARGON2_TIME_COST": "1"})
    env["TUTELA_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [found, *args], env=env, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def test_the_declarations_in_force_give_the_record_of_their_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "init", "--declarations", str(HELPDESK)).returncode == 0

    stored = run(data, "ropa", "--format", "jsonld")
    from_file = run(data, "ropa", "--format", "jsonld", "--declarations", str(HELPDESK))
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout == from_file.stdout

    out = tmp_path / "ropa.csv"
    written = run(data, "ropa", "--format", "csv", "--output", str(out))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert [r["role"] for r in rows if r["purpose"] == "conversations"] == ["processor"]


def test_without_declarations_it_says_what_to_do(tmp_path: Path) -> None:
    result = run(tmp_path / "nothing-here", "ropa")
    assert result.returncode == 1
    assert "tutela init" in result.stderr
    assert "Traceback" not in result.stderr
