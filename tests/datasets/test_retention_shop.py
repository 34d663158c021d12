"""Retention sweeps on the Fides sample shop, as examples/fides-shop declares them: rows are
tied to their customer's account in Tutela through the email address (directly, or along the
references to the customer), and go once the account has been closed long enough."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.datasets.conftest import Shop, Snapshot
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.subjects import CLOSED
from tutela.services import audit, holds, retention, vault

ROOT = Path(__file__).resolve().parents[2]
DECLARATIONS = ROOT / "examples" / "fides-shop" / "tutela.yaml"
YEAR = 365 * 86400 * 1_000_000
DATASET = "postgres_example_test_dataset"


@pytest.fixture
def rt(shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("SHOP_DATABASE_URL", shop.url)
    settings = make_settings(tmp_path / "data", "sqlite")
    initialize(settings, DECLARATIONS)
    runtime = open_runtime(settings)
    try:
        yield runtime
    finally:
        for connector in runtime.ctx.connectors() if runtime.ctx.connectors else []:
            connector.close()  # type: ignore[attr-defined]
        runtime.close()


def closed_account(rt: Runtime, email: str) -> str:
    """A customer registered in Tutela whose account was closed now."""
    sid = vault.register(rt.ctx, rt.operator(), {"user.contact.email": email}).id
    with rt.ctx.uow() as uow:
        uow.subjects.set_status("default", sid, CLOSED, rt.ctx.clock())
        uow.commit()
    return sid


def years_later(rt: Runtime, years: int) -> None:
    real = rt.ctx.clock
    rt.ctx.clock = lambda: real() + years * YEAR


def changes(before: Snapshot, after: Snapshot) -> dict[str, dict[str, Any]]:
    """Per table: keys of rows deleted, and changed columns of rows that stayed."""
    out: dict[str, dict[str, Any]] = {}
    for table, rows in before.items():
        gone = sorted(k for k in rows if k not in after[table])
        changed = {
            k: {c: after[table][k][c] for c in row if after[table][k][c] != row[c]}
            for k, row in rows.items()
            if k in after[table] and after[table][k] != row
        }
        if gone or changed:
            out[table] = {"deleted": gone, "changed": changed}
    return out


def test_a_closed_account_loses_its_rows_once_every_rule_has_ended(shop: Shop, rt: Runtime) -> None:
    closed_account(rt, "customer-1@example.com")
    years_later(rt, 2)  # orders keep the account's data 3 years after it was closed
    assert retention.run(rt.ctx, rt.operator(), apply=False)["datasets"] == []
    years_later(rt, 2)
    plan = retention.run(rt.ctx, rt.operator(), apply=False)
    counts = {(d["collection"], d["deleted"], d["anonymized"]) for d in plan["datasets"]}
    assert counts == {
        ("login", 6, 0),
        ("visit", 1, 0),
        ("service_request", 1, 0),
        ("customer", 0, 1),  # orders and a card point at it: it stays, anonymized
    }
    assert "customer-1@example.com" not in repr(plan)
    before = shop.snapshot()
    done = retention.run(rt.ctx, rt.operator(), apply=True)
    assert done["datasets"] == plan["datasets"]
    assert changes(before, shop.snapshot()) == {
        "customer": {"deleted": [], "changed": {(1,): {"email": None, "name": None}}},
        "login": {"deleted": [(1,), (2,), (3,), (4,), (5,), (6,)], "changed": {}},
        "service_request": {"deleted": [("ser_aaa-aaa",)], "changed": {}},
        "visit": {
            "deleted": [k for k in before["visit"] if k[0] == "customer-1@example.com"],
            "changed": {},
        },
    }
    evidence = [
        e["details"]
        for e in audit.entries(rt.ctx, rt.operator(), subject_id=None, after=0, limit=1000)
        if e["action"] == "retention.sweep" and e["details"].get("dataset") == DATASET
    ]
    assert {(e["collection"], e["deleted"], e["anonymized"]) for e in evidence} == counts
    # the customers Tutela does not know, and accounts still open, keep their rows
    assert retention.run(rt.ctx, rt.operator(), apply=True)["datasets"] == []


def test_a_hold_on_a_customer_keeps_its_rows_and_the_rows_they_point_at(
    shop: Shop, rt: Runtime
) -> None:
    closed_account(rt, "customer-1@example.com")
    held = closed_account(rt, "customer-2@example.com")
    hold = holds.place(rt.ctx, rt.operator(), reason="Case 9 O 44/26", subject_id=held)
    years_later(rt, 4)
    before = shop.snapshot()
    done = retention.run(rt.ctx, rt.operator(), apply=True)
    kept = {(d["collection"], d["rows"]) for d in done["datasets_held"]}
    assert kept == {("customer", 1), ("login", 1), ("visit", 1), ("service_request", 1)}
    assert {d["hold"] for d in done["datasets_held"]} == {hold["id"]}
    left_alone = {(d["collection"], d["rows"]) for d in done["datasets_kept"]}
    assert left_alone == {("customer", 1)}  # customer 1: orders point at it, a hold is in force
    after = shop.snapshot()
    assert after["customer"] == before["customer"]
    assert (7,) in after["login"]  # customer 2's login
    assert (1,) not in after["login"]  # customer 1's
