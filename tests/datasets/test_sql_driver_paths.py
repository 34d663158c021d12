"""The connector's statements on the driver: what listeners see, how failures surface, and
shared rows counted in one statement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from tests.datasets.conftest import Shop, load_sqlite
from tutela.adapters.connectors.sql_driver import Driver
from tutela.adapters.connectors.sql_reaching import MAX_SELECTS, Reaching

CUSTOMER_1 = "customer-1@example.com"


def _json(shop: Shop, email: str, **options: Any) -> dict[str, Any]:
    connector = shop.connector(**options)
    try:
        return connector.access({"email": email}).as_json()
    finally:
        connector.close()


def test_listeners_see_every_statement_and_change_nothing(shop: Shop) -> None:
    unwatched = _json(shop, CUSTOMER_1)
    connector = shop.connector()
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(connector.engine, "before_cursor_execute", listen)
    try:
        watched = connector.access({"email": CUSTOMER_1}).as_json()
        erased = connector.erase({"email": CUSTOMER_1})
    finally:
        connector.close()
    assert watched == unwatched
    reads = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert any("FROM customer" in s for s in reads)
    assert any(s.lstrip().upper().startswith("DELETE") for s in seen)
    assert sum(c.deleted for c in erased.collections) > 0
    assert _json(shop, CUSTOMER_1)["collections"] == {}


def test_a_driver_error_is_sqlalchemys_and_hides_the_values(shop: Shop) -> None:
    engine = create_engine(shop.url)
    marker = "?" if shop.backend == "sqlite" else "%(email)s"
    sql = f"SELECT * FROM no_such_table WHERE email = {marker}"
    secret = "secret@example.com"
    args: Any = [secret] if shop.backend == "sqlite" else {"email": secret}
    try:
        with (
            engine.connect() as connection,
            Driver.of(connection) as driver,
            pytest.raises((OperationalError, ProgrammingError)) as raised,
        ):
            driver.execute(sql, args)
    finally:
        engine.dispose()
    assert isinstance(raised.value, DBAPIError)
    assert "no_such_table" in str(raised.value)
    assert secret not in str(raised.value)
    assert not raised.value.connection_invalidated


def test_a_connection_the_database_dropped_is_replaced_and_the_read_retried(
    shop: Shop,
) -> None:
    if shop.backend == "sqlite":
        pytest.skip("database servers drop connections; SQLite has none to drop")
    postgres = shop.backend == "postgres"
    connector = shop.connector()
    invalidated: list[object] = []
    event.listen(connector.engine, "invalidate", lambda *args: invalidated.append(args))
    try:
        first = connector.access({"email": CUSTOMER_1}).as_json()
        with connector.engine.connect() as connection:  # the pooled connection reads use
            asked = "SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()"
            pid = connection.exec_driver_sql(asked).scalar()
        with shop.engine.connect() as admin:
            if postgres:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            else:
                admin.exec_driver_sql(f"KILL {int(pid)}")
        assert connector.access({"email": CUSTOMER_1}).as_json() == first
        assert len(invalidated) == 1  # the dead connection was found, dropped, replaced
    finally:
        connector.close()


def test_rows_held_outside_the_request_are_counted_per_field(shop: Shop) -> None:
    connector = shop.connector()
    try:
        reader = connector._prepared.reader
        fields = [("customer", "address_id"), ("orders", "shipping_address_id")]
        with connector.engine.connect() as connection, Driver.of(connection) as driver:
            counts = reader.holding(driver, fields, [1, 2, 9999])
            expected = {
                (position, value): connection.execute(
                    text(f"SELECT count(*) FROM {table} WHERE {column} = :v"), {"v": value}
                ).scalar()
                for position, (table, column) in enumerate(fields)
                for value in (1, 2, 9999)
            }
            # more values than one statement counts: counted in several
            many = reader.holding(driver, fields, range(1, 451))
            grouped = {
                (position, value): rows
                for position, (table, column) in enumerate(fields)
                for value, rows in connection.execute(
                    text(
                        f"SELECT {column}, count(*) FROM {table} "
                        f"WHERE {column} BETWEEN 1 AND 450 GROUP BY {column}"
                    )
                )
            }
    finally:
        connector.close()
    assert counts == {key: rows for key, rows in expected.items() if rows}
    assert many == grouped
    assert len(grouped) > 2


def test_an_erasure_that_fails_midway_changes_nothing(shop: Shop) -> None:
    """Children go first; the customer's own row then fails to delete: every earlier
    delete and update of the transaction is rolled back."""
    if shop.backend == "sqlite":
        statements = [
            "CREATE TRIGGER refuse BEFORE DELETE ON customer "
            "BEGIN SELECT RAISE(ABORT, 'customers are never deleted'); END"
        ]
    elif shop.backend == "mysql":
        statements = [
            "CREATE TRIGGER refuse BEFORE DELETE ON customer FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'customers are never deleted'"
        ]
    else:
        statements = [
            "CREATE FUNCTION refuse() RETURNS trigger AS "
            "$$ BEGIN RAISE EXCEPTION 'customers are never deleted'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE DELETE ON customer "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
    with shop.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    before = shop.snapshot()
    connector = shop.connector()
    try:
        with pytest.raises(DBAPIError) as raised:
            connector.erase({"email": CUSTOMER_1})
    finally:
        connector.close()
    assert "customers are never deleted" in str(raised.value)
    assert shop.snapshot() == before
    assert _json(shop, CUSTOMER_1)["collections"]["customer"]


def test_an_address_only_the_subject_uses_goes_and_one_shared_stays_untouched(shop: Shop) -> None:
    """Rows outside the request that point at a reached row are counted (on SQLite along
    with the read itself, in its one statement): the shared row stays as it was."""
    email = "new-customer@example.com"
    with shop.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO address (id, house, street, city, state, zip) "
                "VALUES (9001, 1, :s, :c, :t, :z)"
            ),
            {"s": "Fictional Lane", "c": "Nowhere", "t": "NA", "z": "00000"},
        )
        connection.execute(
            text("INSERT INTO customer (id, email, name, address_id) VALUES (9001, :e, :n, 9001)"),
            {"e": email, "n": "New Customer"},
        )
        # shipped to an address customer 1 lives at
        connection.execute(
            text(
                "INSERT INTO orders (id, customer_id, shipping_address_id) "
                "VALUES ('ord_new', 9001, (SELECT address_id FROM customer WHERE id = 1))"
            )
        )
    before = shop.snapshot()
    connector = shop.connector()
    connector.access({"email": "nobody@example.com"})  # the tables reflected beforehand
    seen: list[str] = []
    event.listen(
        connector.engine, "before_cursor_execute", lambda _c, _k, sql, *_: seen.append(sql)
    )
    try:
        result = connector.erase({"email": email})
    finally:
        connector.close()
    after = shop.snapshot()
    shared_address = (before["customer"][(1,)]["address_id"],)
    assert (9001,) not in after["address"]
    assert (9001,) not in after["customer"]
    assert ("ord_new",) not in after["orders"]
    assert after["address"][shared_address] == before["address"][shared_address]
    address = result.collection("address")
    assert address is not None
    assert (address.reached, address.deleted) == (2, 1)
    outside = "referenced by customer.address_id of rows outside this request"
    assert [k.reason for k in address.kept] == [f"shared with other subjects ({outside})"]
    if shop.backend == "sqlite":  # every row and every count in one statement
        reads = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]
        assert len(reads) == 1


def test_counts_past_sqlites_limit_of_selects_are_taken_in_a_statement_of_their_own(
    shop: Shop, tmp_path: Path
) -> None:
    if shop.backend != "sqlite":
        pytest.skip("only SQLite reads a request's rows in one statement")
    expected = shop.connector().erase({"email": CUSTOMER_1})
    copy = Shop("sqlite", load_sqlite(tmp_path / "copy.db"), shop.engine)
    connector = copy.connector()
    ready = connector._prepared
    many = ready.shared.counting * (MAX_SELECTS // len(ready.shared.counting) + 1)
    erasing = Reaching(ready.erasing_reader, connector.engine.dialect, many)
    object.__setattr__(ready, "erasing_reaching", erasing)
    seen: list[str] = []
    event.listen(
        connector.engine, "before_cursor_execute", lambda _c, _k, sql, *_: seen.append(sql)
    )
    try:
        assert connector.erase({"email": CUSTOMER_1}) == expected
    finally:
        connector.close()
    reads = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(reads) == 2  # the rows, then the counts
    assert "count(" not in reads[0]
