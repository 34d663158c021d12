"""Rows read through the driver's cursor are the rows SQLAlchemy itself would return, and
rows are deleted through it as asked."""

from __future__ import annotations

import datetime as dt
import decimal
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    create_engine,
    or_,
    select,
)

from tests.fixtures_support import MYSQL_URL, mysql_database
from tutela.adapters.connectors.sql_driver import Driver, compile_shape
from tutela.adapters.connectors.sql_writing import Writer
from tutela.domain.errors import Conflict

PG_URL = os.environ.get("TUTELA_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else []) + (["mysql"] if MYSQL_URL else [])

metadata = MetaData()
orders = Table(
    "driver_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(100)),
    Column("placed", Date),
    Column("paid_at", DateTime),
    Column("total", Numeric(10, 2)),
)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "mysql":
        with mysql_database(MYSQL_URL, []) as url:
            yield from _filled(url)
        return
    sqlite = f"sqlite:///{tmp_path / 'orders.db'}"
    yield from _filled(sqlite if request.param == "sqlite" else PG_URL)


def _filled(url: str) -> Iterator[Engine]:
    made = create_engine(url)
    metadata.drop_all(made)
    metadata.create_all(made)
    with made.begin() as conn:
        conn.execute(
            orders.insert(),
            [
                {
                    "id": n,
                    "email": f"buyer-{n % 3}@example.com",
                    "placed": dt.date(2026, 1, n),
                    "paid_at": dt.datetime(2026, 1, n, 9, 30),
                    "total": decimal.Decimal(f"{n}9.95"),
                }
                for n in range(1, 8)
            ],
        )
    try:
        yield made
    finally:
        metadata.drop_all(made)
        made.dispose()


@pytest.mark.parametrize("lock", [False, True])
def test_typed_values_and_locks_match_sqlalchemy(engine: Engine, lock: bool) -> None:
    statement = select(*orders.c).where(
        or_(
            orders.c.email.in_(bindparam("_in0", expanding=True)),
            orders.c.placed.in_(bindparam("_in1", expanding=True)),
        )
    )
    if lock:
        statement = statement.with_for_update()
    lists = {
        "_in0": ["buyer-1@example.com", "nobody@example.com"],
        "_in1": [dt.date(2026, 1, 3)],
    }
    with engine.begin() as conn:
        expected = [dict(row) for row in conn.execute(statement, lists).mappings()]
        shape = compile_shape(statement, conn.dialect, lists)
        with Driver.of(conn) as driver:
            found = shape.run(driver, [v for values in lists.values() for v in values])
    assert ("FOR UPDATE" in shape.sql) == (lock and engine.dialect.name != "sqlite")
    key = lambda row: row["id"]  # noqa: E731
    assert sorted(found, key=key) == sorted(expected, key=key)
    assert {row["id"] for row in found} == {1, 3, 4, 7}
    first = next(row for row in found if row["id"] == 1)
    assert first["placed"] == dt.date(2026, 1, 1)
    assert first["paid_at"] == dt.datetime(2026, 1, 1, 9, 30)
    assert first["total"] == decimal.Decimal("19.95")


def _ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(row.id for row in conn.execute(select(orders.c.id)))


def test_rows_are_deleted_by_key_and_a_vanished_one_changes_nothing(engine: Engine) -> None:
    tables = {"driver_orders": orders}
    writer = Writer(tables, {"driver_orders": ("id",)}, {"driver_orders": ("id",)})
    vanished = pytest.raises(Conflict, match="driver_orders: 2 rows deleted instead of 3")
    with vanished, engine.begin() as conn, Driver.of(conn) as driver:
        writer.delete(driver, "driver_orders", [(1,), (2,), (99,)])
    assert _ids(engine) == [1, 2, 3, 4, 5, 6, 7]
    with engine.begin() as conn, Driver.of(conn) as driver:
        assert writer.delete(driver, "driver_orders", [(1,), (2,), (6,)]) == 3
    assert _ids(engine) == [3, 4, 5, 7]


def test_many_rows_are_deleted_by_key_in_lists(engine: Engine) -> None:
    tables = {"driver_orders": orders}
    writer = Writer(tables, {"driver_orders": ("id",)}, {"driver_orders": ("id",)}, batch_size=8)
    with engine.begin() as conn:
        conn.execute(
            orders.insert(), [{"id": n, "email": f"{n}@example.com"} for n in range(100, 120)]
        )
    vanished = pytest.raises(Conflict, match="driver_orders: 7 rows deleted instead of 8")
    with vanished, engine.begin() as conn, Driver.of(conn) as driver:
        writer.delete(driver, "driver_orders", [(n,) for n in (999, *range(100, 110))])
    assert _ids(engine)[-20:] == list(range(100, 120))
    with engine.begin() as conn, Driver.of(conn) as driver:  # in three lists of 8, 8 and 4
        assert writer.delete(driver, "driver_orders", [(n,) for n in range(100, 120)]) == 20
    assert _ids(engine) == [1, 2, 3, 4, 5, 6, 7]
