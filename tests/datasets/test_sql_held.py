"""Reads on a SQLite file run on a connection each thread keeps: every read sees what was
committed before it began, leaves no transaction open, takes nothing from the pool, and
disposing of the engine closes every thread's connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from tests.datasets.conftest import Shop
from tutela.adapters.connectors.sql_held import held_connections

CUSTOMER_1 = "customer-1@example.com"


@pytest.fixture
def sqlite_shop(shop: Shop) -> Shop:
    if shop.backend != "sqlite":
        pytest.skip("connections are kept per thread for SQLite files only")
    return shop


def _name(found: dict[str, object]) -> object:
    rows = found["collections"]["customer"]  # type: ignore[index]
    return rows[0]["name"]["value"]


def test_each_read_sees_what_was_committed_before_it(sqlite_shop: Shop) -> None:
    connector = sqlite_shop.connector()
    try:
        before = connector.access({"email": CUSTOMER_1}).as_json()
        with sqlite_shop.engine.begin() as connection:
            connection.execute(
                text("UPDATE customer SET name = 'Renamed Customer' WHERE email = :e"),
                {"e": CUSTOMER_1},
            )
        after = connector.access({"email": CUSTOMER_1}).as_json()
        held = held_connections(connector.engine)
        assert held is not None
        own = held.take()
        assert own.dbapi_connection is not None
        assert not own.dbapi_connection.in_transaction  # type: ignore[attr-defined]
    finally:
        connector.close()
    assert _name(before) != "Renamed Customer"
    assert _name(after) == "Renamed Customer"


def test_threads_read_on_their_own_connections_outside_the_pool(sqlite_shop: Shop) -> None:
    connector = sqlite_shop.connector()
    try:
        expected = connector.access({"email": CUSTOMER_1}).as_json()
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(lambda _: connector.access({"email": CUSTOMER_1}).as_json(), range(64))
            )
        assert connector.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        # writes still get a pooled connection while the threads keep theirs
        erased = connector.erase({"email": CUSTOMER_1})
    finally:
        connector.close()
    assert all(result == expected for result in results)
    assert sum(c.deleted for c in erased.collections) > 0


def test_disposing_of_the_engine_closes_every_threads_connection(sqlite_shop: Shop) -> None:
    connector = sqlite_shop.connector()
    held = held_connections(connector.engine)
    assert held is not None
    taken = []

    def read(_: int) -> None:
        connector.access({"email": CUSTOMER_1})
        taken.append(held.take())

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(read, range(3)))
    assert all(connection.is_valid for connection in taken)
    connector.close()
    assert not any(connection.is_valid for connection in taken)


def test_an_in_memory_database_is_never_read_on_another_connection() -> None:
    engine = create_engine("sqlite://")
    try:
        assert held_connections(engine) is None
    finally:
        engine.dispose()
