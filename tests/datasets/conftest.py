"""The Fides sample shop on SQLite; on PostgreSQL when TUTELA_TEST_DATABASE_URL is set (in a
schema of its own, so that tests using the public schema can run at the same time); on
MySQL or MariaDB when TUTELA_TEST_MYSQL_URL is set (in a database of its own)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, bindparam, create_engine, inspect, text

from tests.fixtures_support import (
    DATASET_FILE,
    MYSQL_URL,
    load_sqlite,
    mysql_shop,
    postgres_shop,
)
from tutela.adapters.connectors.sql import SqlConnector
from tutela.datasets.loading import load_datasets
from tutela.datasets.models import Dataset

PG_URL = os.environ.get("TUTELA_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else []) + (["mysql"] if MYSQL_URL else [])
HASH_KEY = b"test-hash-key-0123456789abcdef!!"

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


@dataclass
class Shop:
    backend: str
    url: str
    engine: Engine

    @cached_property
    def dataset(self) -> Dataset:
        (dataset,) = load_datasets(DATASET_FILE)
        return dataset

    def connector(self, **options: Any) -> SqlConnector:
        options.setdefault("hash_key", HASH_KEY)
        return SqlConnector.from_url(self.url, self.dataset, **options)

    @cached_property
    def keys(self) -> dict[str, tuple[str, ...]]:
        inspector = inspect(self.engine)
        return {
            c.name: tuple(inspector.get_pk_constraint(c.name)["constrained_columns"])
            for c in self.dataset.collections
        }

    def declared(self, collection: str) -> tuple[str, ...]:
        found = self.dataset.collection(collection)
        assert found is not None
        return tuple(f.name for f in found.fields)

    def personal(self, collection: str) -> tuple[str, ...]:
        found = self.dataset.collection(collection)
        assert found is not None
        return tuple(
            f.name for f in found.fields if any(c.startswith("user") for c in f.categories)
        )

    def snapshot(self) -> Snapshot:
        """Every row of every dataset table, by primary key."""
        out: Snapshot = {}
        with self.engine.connect() as connection:
            for name, keys in self.keys.items():
                rows = connection.execute(text(f"SELECT * FROM {name}")).mappings()
                out[name] = {tuple(row[k] for k in keys): dict(row) for row in rows}
        return out

    def reached_by_hand(self, email: str) -> dict[str, set[tuple[Any, ...]]]:
        with self.engine.connect() as connection:
            return reached_by_hand(connection, email)


def reached_by_hand(connection: Connection, email: str) -> dict[str, set[tuple[Any, ...]]]:
    """The fixture's references followed by hand, in plain SQL: primary keys per table."""

    def rows(sql: str, **params: Any) -> list[tuple[Any, ...]]:
        statement = text(sql)
        for name, value in params.items():
            if isinstance(value, list):
                if not value:
                    return []
                statement = statement.bindparams(bindparam(name, expanding=True))
        return [tuple(row) for row in connection.execute(statement, params)]

    customer = rows("SELECT id, address_id FROM customer WHERE email = :e", e=email)
    employee = rows("SELECT id, address_id FROM employee WHERE email = :e", e=email)
    customer_ids = [c[0] for c in customer]
    orders = rows(
        "SELECT id, shipping_address_id FROM orders WHERE customer_id IN :ids", ids=customer_ids
    )
    cards = rows(
        "SELECT id, billing_address_id FROM payment_card WHERE customer_id IN :ids",
        ids=customer_ids,
    )
    items = rows(
        "SELECT order_id, item_no, product_id FROM order_item WHERE order_id IN :ids",
        ids=[o[0] for o in orders],
    )
    address_ids = {r[1] for r in customer + employee + orders + cards} - {None}
    return {
        "customer": {(c[0],) for c in customer},
        "employee": {(e[0],) for e in employee},
        "report": set(rows("SELECT id FROM report WHERE email = :e", e=email)),
        "visit": set(rows("SELECT email, last_visit FROM visit WHERE email = :e", e=email)),
        "service_request": set(
            rows("SELECT id FROM service_request WHERE email = :e OR alt_email = :e", e=email)
            + rows(
                "SELECT id FROM service_request WHERE employee_id IN :ids",
                ids=[e[0] for e in employee],
            )
        ),
        "login": set(rows("SELECT id FROM login WHERE customer_id IN :ids", ids=customer_ids)),
        "orders": {(o[0],) for o in orders},
        "payment_card": {(c[0],) for c in cards},
        "order_item": {(i[0], i[1]) for i in items},
        "product": set(rows("SELECT id FROM product WHERE id IN :ids", ids=[i[2] for i in items])),
        "address": set(rows("SELECT id FROM address WHERE id IN :ids", ids=sorted(address_ids))),
    }


@pytest.fixture(params=BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    if request.param == "sqlite":
        url = load_sqlite(tmp_path / "shop.db")
        engine = create_engine(url)
        yield Shop("sqlite", url, engine)
        engine.dispose()
        return
    made = postgres_shop(PG_URL) if request.param == "postgres" else mysql_shop(MYSQL_URL)
    with made as url:
        engine = create_engine(url)
        yield Shop(request.param, url, engine)
        engine.dispose()
