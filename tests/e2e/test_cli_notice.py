"""`tutela notice render`, run in subprocesses as an operator would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "examples" / "desktop-vendor.yml"
HELPDESK = ROOT / "examples" / "saas-helpdesk.yml"


def run(data_dir: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).parent / "tutela"
    found = str(beside) if beside.exists() else shutil.which("tutela")
    if found is None:
        pytest.skip("the tutela console script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env.update({"TUTELA_ARGON2_MEMORY_KIB": "1024", "TUTELA_ARGON2_TIME_COST": "1"})
    if data_dir is not None:
        env["TUTELA_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [found, *args], env=env, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def test_render_a_file_without_a_data_directory(tmp_path: Path) -> None:
    args = ("--declarations", str(HELPDESK), "--lang", "zh", "--format", "md")
    base = ("--base-url", "https://privacy.example.com")
    result = run(tmp_path / "none", "notice", "render", *args, *base)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# 隐私政策\n")
    assert "https://privacy.example.com/privacy/default/download" in result.stdout
    assert "Xiaomi Push" in result.stdout
    assert not (tmp_path / "none").exists()


def test_an_unknown_language_falls_back_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "notice.html"
    result = run(None, "notice", "render", "-d", str(VENDOR), "--lang", "fr", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "no notice in 'fr'; written in the default language de" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="de">')
    assert "Datenschutzerklärung" in page


def test_render_the_declarations_in_force_as_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "init", "--declarations", str(VENDOR)).returncode == 0
    result = run(data, "notice", "render", "--format", "json", "--lang", "en")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["language"] == "en"
    assert facts["organization"]["name"] == "Beispiel Software GmbH"
    assert facts["privacy_center_url"] == "http://127.0.0.1:8000/privacy/"


def test_usage_and_missing_declarations_are_refused(tmp_path: Path) -> None:
    bad_format = run(None, "notice", "render", "-d", str(VENDOR), "--format", "pdf")
    assert bad_format.returncode == 2
    data = tmp_path / "data"
    assert run(data, "init").returncode == 0
    empty = run(data, "notice", "render")
    assert empty.returncode == 1
    assert "no declarations are loaded" in empty.stderr
