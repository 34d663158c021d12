"""`tutela tenants retention`, run in subprocesses as an operator would run it."""

from __future__ import annotations

import json
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
    env["TUTELA_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [found, *args], env=env, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def test_set_and_list_a_tenants_period(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "init", "--declarations", str(HELPDESK)).returncode == 0
    tenant = ("--tenant", "example-logistics")

    changed = run(data, "tenants", "retention", "set", "conversations", "P30D", *tenant)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "example-logistics: conversations kept P30D"

    refused = run(data, "tenants", "retention", "set", "conversations", "P6Y", *tenant)
    assert refused.returncode == 1
    assert "outside the bounds P7D..P5Y" in refused.stderr
    assert "Traceback" not in refused.stderr

    listed = run(data, "tenants", "retention", "list", *tenant, "--json")
    assert listed.returncode == 0, listed.stderr
    periods = {p["purpose"]: p for p in json.loads(listed.stdout)}
    assert (periods["conversations"]["keep"], periods["conversations"]["source"]) == (
        "P30D",
        "tenant",
    )
    human = run(data, "tenants", "retention", "list", *tenant).stdout
    assert "conversations: P30D after collected, tenant  (tenant may set P7D..P5Y)" in human
