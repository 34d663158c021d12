"""The Fides sample shop, as a new user would try it: init with its declarations, then
access and erasure requests for a customer, through the real command line (the shop on
SQLite, and on MySQL or MariaDB when TUTELA_TEST_MYSQL_URL is set)."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.fixtures_support import MYSQL_URL, mysql_shop

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "fides-shop"
TUTELA = str(Path(sys.executable).parent / "tutela")


@pytest.fixture(params=["sqlite"] + (["mysql"] if MYSQL_URL else []))
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The shop on SQLite (the example's own script), or on MySQL/MariaDB (the Fides
    fixture it was translated from)."""
    env = {
        **os.environ,
        "TUTELA_DATA_DIR": str(tmp_path / "data"),
        "TUTELA_ARGON2_MEMORY_KIB": "1024",
        "TUTELA_ARGON2_TIME_COST": "1",
    }
    if request.param == "mysql":
        with mysql_shop(MYSQL_URL) as url:
            yield {**env, "SHOP_DATABASE_URL": url}
        return
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as conn:
        conn.executescript((SHOP / "shop.sql").read_text())
    yield {**env, "SHOP_DATABASE_URL": f"sqlite:///{database}"}


def dump(url: str) -> str:
    """Every value of every table of the shop, as text."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return "\n".join(
                repr(tuple(row))
                for table in inspect(connection).get_table_names()
                for row in connection.execute(text(f"SELECT * FROM {table}"))
            )
    finally:
        engine.dispose()


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
    left = dump(shop["SHOP_DATABASE_URL"])
    assert "customer-1@example.com" not in left
    assert "jane@example.com" in left  # other customers untouched
