"""`tutela check` recommends indexes on identity and reference columns that lack one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.datasets.conftest import Shop
from tests.fixtures_support import load_sqlite
from tutela.adapters.connectors.sql_indexes import index_advice
from tutela.declarations import load_declarations
from tutela.entrypoints.cli import app

ROOT = Path(__file__).resolve().parents[2]
DECLARATIONS = ROOT / "examples" / "fides-shop" / "tutela.yaml"

#: The identity and reference columns of the shop, and the columns dating the rows of the
#: collections under retention, that are not the first column of its primary key
#: (visit.email is; every table's id is).
MISSING = [
    ("customer", "address_id"),
    ("customer", "created"),
    ("customer", "email"),
    ("employee", "address_id"),
    ("employee", "email"),
    ("login", "customer_id"),
    ("login", "time"),
    ("orders", "customer_id"),
    ("orders", "shipping_address_id"),
    ("order_item", "product_id"),
    ("payment_card", "billing_address_id"),
    ("payment_card", "customer_id"),
    ("report", "email"),
    ("service_request", "alt_email"),
    ("service_request", "email"),
    ("service_request", "employee_id"),
    ("service_request", "opened"),
    ("visit", "last_visit"),
]


@pytest.fixture
def shop_url(tmp_path: Path) -> str:
    return load_sqlite(tmp_path / "shop.db")


def _advice(url: str) -> list[str]:
    declarations = load_declarations(DECLARATIONS)
    found = index_advice(
        declarations, DECLARATIONS.parent, str(DECLARATIONS), environ={"SHOP_DATABASE_URL": url}
    )
    assert all(item.severity == "advice" for item in found)
    return [str(item) for item in found]


def test_every_unindexed_column_is_advised_at_its_field(shop_url: str) -> None:
    lines = _advice(shop_url)
    assert len(lines) == len(MISSING)
    for (table, column), line in zip(MISSING, lines, strict=True):
        assert line.startswith(f"{DECLARATIONS.parent / 'dataset.yml'}:")
        assert ": dataset[0].collections[" in line
        assert f": advice: {table}.{column}: no index starts with this column" in line
        assert line.endswith(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
    # the line is the field's own: "- name: email" of the customer collection
    email = next(line for line in lines if "customer.email" in line)
    number = int(email.split(":")[1])
    text = (DECLARATIONS.parent / "dataset.yml").read_text(encoding="utf-8").splitlines()
    assert text[number - 1].strip() == "- name: email"


def test_no_advice_once_the_indexes_exist(shop_url: str, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "shop.db") as connection:
        for table, column in MISSING:
            if (table, column) != ("service_request", "employee_id"):
                connection.execute(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
        # a unique constraint's leading column counts as well; a second column does not
        connection.execute("CREATE UNIQUE INDEX ux_sr ON service_request (employee_id, email)")
    lines = _advice(shop_url)
    assert lines == []


def test_an_index_led_by_another_column_does_not_count(shop_url: str, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "shop.db") as connection:
        connection.execute("CREATE INDEX ix_customer_name_email ON customer (name, email)")
    assert any("customer.email" in line for line in _advice(shop_url))


def test_no_advice_without_the_connection_variable() -> None:
    declarations = load_declarations(DECLARATIONS)
    assert index_advice(declarations, DECLARATIONS.parent, str(DECLARATIONS), environ={}) == []


def test_an_unreachable_database_is_advice_too(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    declarations = load_declarations(DECLARATIONS)
    found = index_advice(
        declarations, DECLARATIONS.parent, str(DECLARATIONS), environ={"SHOP_DATABASE_URL": url}
    )
    assert len(found) == 1
    assert found[0].severity == "advice"
    assert "indexes not checked" in found[0].message


def test_check_prints_advice_and_still_succeeds(
    shop_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DATABASE_URL", shop_url)
    runner = CliRunner()
    result = runner.invoke(app, ["check", str(DECLARATIONS)])
    assert result.exit_code == 0, result.output
    assert f"{DECLARATIONS}: ok" in result.output
    assert "advice: customer.email: no index starts with this column" in result.output
    assert f"{len(MISSING)} recommendation(s)" in result.output

    result = runner.invoke(app, ["check", "--json", str(DECLARATIONS)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True
    assert data["files"] == {str(DECLARATIONS): []}
    assert len(data["advice"]) == len(MISSING)
    first = data["advice"][0]
    assert first["path"].startswith("dataset[0].collections[")
    assert first["fix"] == "CREATE INDEX ix_customer_address_id ON customer (address_id)"


def test_check_without_the_variable_gives_no_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["check", "--json", str(DECLARATIONS)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["advice"] == []


def test_the_same_advice_on_every_database(shop: Shop) -> None:
    advised = [line.split(": advice: ")[1].split(":")[0] for line in _advice(shop.url)]
    assert advised == [f"{table}.{column}" for table, column in MISSING]
