"""Erasure where the database enforces foreign keys: children go first, keys that rows
outside the request point at stay, and NOT NULL columns get placeholders, never NULL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.datasets.conftest import BACKENDS, PG_URL
from tests.fixtures_support import MYSQL_URL, mysql_database, postgres_schema
from tutela.adapters.connectors.sql import SqlConnector
from tutela.adapters.database import make_engine
from tutela.datasets.loading import read_dataset_text

SCHEMA = [
    "CREATE TABLE address (id INTEGER PRIMARY KEY, street VARCHAR(40) NOT NULL)",
    "CREATE TABLE account (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL,"
    " name VARCHAR(50), address_id INTEGER NOT NULL REFERENCES address (id))",
    "CREATE TABLE invoice (id INTEGER PRIMARY KEY,"
    " account_id INTEGER NOT NULL REFERENCES account (id), total INTEGER)",
    "CREATE TABLE line (invoice_id INTEGER NOT NULL REFERENCES invoice (id),"
    " no INTEGER NOT NULL, note VARCHAR(20), PRIMARY KEY (invoice_id, no))",
    "INSERT INTO address VALUES (1, 'Shared Street 1'), (2, 'Own Lane 2')",
    "INSERT INTO account VALUES (1, 'a@example.com', 'Ann', 1),"
    " (2, 'b@example.com', 'Ben', 1), (3, 'c@example.com', 'Cy', 2)",
    "INSERT INTO invoice VALUES (10, 1, 100), (11, 1, 200), (30, 3, 300)",
    "INSERT INTO line VALUES (10, 1, 'tea'), (10, 2, 'cake'), (11, 1, 'tea'), (30, 1, 'pie')",
]

DATASET = """\
dataset:
  - fides_key: billing
    collections:
      - name: address
        fields:
          - {name: id, fides_meta: {primary_key: true}}
          - {name: street, data_categories: [user.contact.address.street]}
      - name: account
        fields:
          - {name: id, data_categories: [user.unique_id], fides_meta: {primary_key: true}}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email}
          - {name: name, data_categories: [user.name]}
          - name: address_id
            fides_meta:
              references: [{dataset: billing, field: address.id, direction: to}]
      - name: invoice
        fields:
          - {name: id, fides_meta: {primary_key: true}}
          - name: account_id
            data_categories: [user.unique_id]
            fides_meta:
              references: [{dataset: billing, field: account.id, direction: from}]
          - {name: total, data_categories: [user.financial]}
      - name: line
        fields:
          - name: invoice_id
            fides_meta:
              references: [{dataset: billing, field: invoice.id, direction: from}]
          - {name: note, data_categories: [NOTE_CATEGORY]}
"""


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'billing.db'}"
        engine = make_engine(url)  # foreign keys are enforced on Tutela's SQLite engines
        with engine.begin() as connection:
            for statement in SCHEMA:
                connection.exec_driver_sql(statement)
        engine.dispose()
        yield url
    elif request.param == "mysql":
        with mysql_database(MYSQL_URL, SCHEMA) as url:
            yield url
    else:
        with postgres_schema(PG_URL, lambda _: SCHEMA) as url:
            yield url


def connector(url: str, note: str) -> SqlConnector:
    ((_, dataset),) = read_dataset_text(DATASET.replace("NOTE_CATEGORY", note), "x").datasets
    return SqlConnector.from_url(url, dataset)


def rows(url: str, table: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
    engine.dispose()
    return found


def test_children_are_deleted_before_parents(url: str) -> None:
    shop = connector(url, "user.content")
    result = shop.erase({"email": "c@example.com"})
    shop.close()
    assert [(c.collection, c.deleted) for c in result.collections] == [
        ("line", 1),
        ("invoice", 1),
        ("account", 1),
        ("address", 1),
    ]
    assert rows(url, "address") == [(1, "Shared Street 1")]
    assert [r[0] for r in rows(url, "account")] == [1, 2]


def test_a_row_other_subjects_point_at_is_shared_and_untouched(url: str) -> None:
    shop = connector(url, "user.content")
    result = shop.erase({"email": "a@example.com"})
    shop.close()
    # Ben lives there too: the address is his as well, so it stays untouched
    assert rows(url, "address") == [(1, "Shared Street 1"), (2, "Own Lane 2")]
    assert [r[0] for r in rows(url, "account")] == [2, 3]
    assert rows(url, "line") == [(30, 1, "pie")]
    (kept,) = result.collection("address").kept  # type: ignore[union-attr]
    assert kept.reason == (
        "shared with other subjects (referenced by account.address_id of rows outside this request)"
    )


def test_rows_without_personal_data_keep_their_parents(url: str) -> None:
    shop = connector(url, "system.operations")
    result = shop.erase({"email": "a@example.com"})
    assert shop.access({"email": "a@example.com"}).row_count == 0
    shop.close()
    # Order lines stay, so invoices stay (their NOT NULL link intact), so the account stays:
    # only its key remains of the subject; NOT NULL email gets a placeholder.
    assert rows(url, "account") == [
        (1, "[erased]", None, 1),
        (2, "b@example.com", "Ben", 1),
        (3, "c@example.com", "Cy", 2),
    ]
    assert rows(url, "invoice") == [(10, 1, None), (11, 1, None), (30, 3, 300)]
    assert result.deleted == 0
    reasons = {(k.field, k.reason) for k in result.kept}
    assert ("account", "referenced by invoice.account_id") in reasons
    assert ("invoice.account_id", "points at account.id and cannot be NULL") in reasons
