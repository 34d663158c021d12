"""The Fides sample shop, as a new user would try it: init with its declarations, then
access and erasure requests for a customer, through the real command line."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "fides-shop"
TUTELA = str(Path(sys.executable).parent / "tutela")


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, str]:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as conn:
        conn.executescript((SHOP / "shop.sql").read_text())
    return {
        **os.environ,
        "SHOP_DATABASE_URL": f"sqlite:///{database}",
        "TUTELA_DATA_DIR": str(tmp_path / "data"),
        "TUTELA_ARGON2_MEMORY_KIB": "1024",
        "TUTELA_ARGON2_TIME_COST": "1",
    }


def tutela(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [TUTELA, *args, "--json"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def request(env: dict[str, str], kind: str, email: str) -> dict[str, Any]:
    created = tutela(
        env,
        "requests",
        "create",
        "--type",
        kind,
        "--email",
        email,
        "--verified-by",
        "account_login",
    )
    done: dict[str, Any] = tutela(env, "requests", "run", created["id"])
    assert done["state"] == "completed"
    return done


def package(env: dict[str, str], request_id: str, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{request_id}.zip"
    tutela(env, "requests", "download", request_id, "--output", str(out))
    archive = zipfile.ZipFile(io.BytesIO(out.read_bytes()))
    data: dict[str, Any] = json.loads(archive.read("data.json"))
    return data["stores"]["postgres_example_test_dataset"]


def test_access_then_erasure_for_a_shop_customer(shop: dict[str, str], tmp_path: Path) -> None:
    tutela(shop, "init", "--declarations", str(SHOP / "tutela.yaml"))
    found = package(shop, request(shop, "access", "customer-1@example.com")["id"], tmp_path)
    assert [r["email"]["value"] for r in found["customer"]] == ["customer-1@example.com"]
    assert found["customer"][0]["email"]["categories"] == ["user.contact.email"]
    assert len(found["login"]) == 6
    everything = json.dumps(found)
    assert "jane@example.com" not in everything  # nobody else's rows

    erased = request(shop, "erasure", "customer-1@example.com")
    summary = erased["result"]["datasets"]["postgres_example_test_dataset"]
    assert summary["customer"]["deleted"] == 1
    again = package(shop, request(shop, "access", "customer-1@example.com")["id"], tmp_path)
    assert all(not rows for rows in again.values())
    database = shop["SHOP_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        dump = "\n".join(conn.iterdump())
    assert "customer-1@example.com" not in dump
    assert "jane@example.com" in dump  # other customers untouched
