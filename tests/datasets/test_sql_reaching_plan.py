"""SQLite's one-statement read looks every table up by index when the indexes `tutela check`
recommends exist: no table is scanned, whoever the subject is."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from benchmarks import dsr, shop
from sqlalchemy import event

SCANNED = re.compile(r"\bSCAN (?!\"?tutela_reached_)(\S+)")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    shop.generate_sqlite(path, 2_000)
    return path


@pytest.mark.parametrize(
    "email",
    [
        shop.email(5),  # a customer with orders
        shop.email(6),  # a service request with an alternative email too
        shop.email(100),  # a monthly report
        "employee-1@example.com",  # an employee, who handles service requests
        "nobody@example.com",
    ],
)
def test_no_table_is_scanned(generated: Path, email: str) -> None:
    connector = dsr.open_connector(f"sqlite:///{generated}")
    sent: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(connector.engine, "before_cursor_execute", listen)
    try:
        connector.access({"email": email})
    finally:
        connector.close()
    (statement, parameters) = next((s, p) for s, p in sent if s.startswith("WITH"))
    with sqlite3.connect(generated) as connection:
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    assert any("SEARCH" in step for step in plan)
    assert [step for step in plan if SCANNED.search(step)] == [], plan
