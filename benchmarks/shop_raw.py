"""The raw limit of a data-subject request on the shop: hand-written SQL on the bare driver.

What an engineer who knows this schema would write, with no framework: ``sqlite3`` or
``psycopg`` directly, the same connection settings as Tutela's engine (SQLite: WAL,
``synchronous=NORMAL``, foreign keys on, busy timeout, ``BEGIN`` for reads and ``BEGIN
IMMEDIATE`` for writes; PostgreSQL: one transaction per request), one connection reused.

* Access: look the email up where the dataset has it as an identity (customer, employee,
  report, visit, service_request), then follow the references with the ids found, one
  statement per table (``IN (?, …)`` on SQLite, ``= ANY(%s)`` with an array on PostgreSQL),
  skipping a table when no id leads to it. The columns returned are the ones the dataset
  declares.
* Erasure, in one transaction, children before parents, with the outcome Tutela's default
  plan gives this dataset (every ``user`` category: delete the row; a row that something
  still points at stays, keeping its keys and links, its personal values set to NULL): lock
  the subject's customer and employee rows and read the ids their rows lead to; delete the
  visits, reports, service requests, logins and payment cards; orders that have order lines
  stay with their customer unlinked, the others are deleted; delete the customer and
  employee; an address that rows outside the request point at is shared with other
  subjects and left untouched; one that only a remaining row of the request points at keeps
  its key and loses its values; the others are deleted. Order lines and products hold no
  personal data and are left alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, Literal

#: The columns the dataset declares, per table, in its order (what an access returns).
FIELDS: dict[str, tuple[str, ...]] = {
    "customer": ("address_id", "created", "email", "id", "name"),
    "employee": ("address_id", "email", "id", "name"),
    "report": ("email", "id", "month", "name", "total_visits", "year"),
    "visit": ("email", "last_visit"),
    "service_request": ("alt_email", "closed", "email", "employee_id", "id", "opened"),
    "login": ("customer_id", "id", "time"),
    "orders": ("customer_id", "id", "shipping_address_id"),
    "payment_card": (
        "billing_address_id",
        "ccn",
        "code",
        "customer_id",
        "id",
        "name",
        "preferred",
    ),
    "order_item": ("order_id", "product_id", "quantity"),
    "product": ("id", "name", "price"),
    "address": ("city", "house", "id", "state", "street", "zip"),
}

_ADDRESS_IN_USE = (
    "(EXISTS (SELECT 1 FROM customer WHERE customer.address_id = address.id)"
    " OR EXISTS (SELECT 1 FROM employee WHERE employee.address_id = address.id)"
    " OR EXISTS (SELECT 1 FROM orders WHERE orders.shipping_address_id = address.id)"
    " OR EXISTS (SELECT 1 FROM payment_card WHERE payment_card.billing_address_id = address.id))"
)

Rows = dict[str, list[tuple[Any, ...]]]
#: (deleted, updated) per table
Counts = dict[str, tuple[int, int]]


def _select(table: str) -> str:
    return f"SELECT {', '.join(FIELDS[table])} FROM {table}"


def _column(table: str, rows: Sequence[tuple[Any, ...]], name: str) -> list[Any]:
    index = FIELDS[table].index(name)
    return [row[index] for row in rows]


def _distinct(values: Sequence[Hashable]) -> list[Any]:
    return [v for v in dict.fromkeys(values) if v is not None]


class RawShop:
    """One connection, hand-written statements; ``statements`` counts what was sent."""

    def __init__(self, kind: Literal["sqlite", "postgres"], connection: Any) -> None:
        self.kind = kind
        self.connection = connection
        self.statements = 0
        self.p = "?" if kind == "sqlite" else "%s"
        self.lock = "" if kind == "sqlite" else " FOR UPDATE"

    @classmethod
    def sqlite(cls, path: Path) -> RawShop:
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            connection.execute(pragma)
        return cls("sqlite", connection)

    @classmethod
    def postgres(cls, conninfo: str) -> RawShop:
        import psycopg

        return cls("postgres", psycopg.connect(conninfo))

    def close(self) -> None:
        self.connection.close()

    # -- plumbing -----------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.statements += 1
        return self.connection.execute(sql, params)

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` equals one of ``values``: an IN list, or ``= ANY`` of an array."""
        if self.kind == "sqlite":
            return f"{column} IN ({', '.join('?' * len(values))})", list(values)
        return f"{column} = ANY(%s)", [list(values)]

    def _begin(self, write: bool) -> None:
        if self.kind == "sqlite":  # transaction control is not counted in ``statements``
            self.connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        # psycopg opens the transaction itself with the first statement

    def _commit(self) -> None:
        if self.kind == "sqlite":
            self.connection.execute("COMMIT")
        else:
            self.connection.commit()

    def rollback(self) -> None:
        if self.kind == "sqlite":
            self.connection.execute("ROLLBACK")
        else:
            self.connection.rollback()

    def _by_email(self, table: str, email: str) -> list[tuple[Any, ...]]:
        return list(self._run(f"{_select(table)} WHERE email = {self.p}", [email]).fetchall())

    def _by_ids(self, table: str, column: str, ids: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not ids:
            return []
        condition, params = self._in(column, ids)
        return list(self._run(f"{_select(table)} WHERE {condition}", params).fetchall())

    # -- access ---------------------------------------------------------------------------

    def access(self, email: str) -> Rows:
        """Every row the dataset's references reach from ``email``, declared columns only."""
        self._begin(write=False)
        try:
            found = self._reach(email)
        finally:
            self.rollback()
        return found

    def _reach(self, email: str) -> Rows:
        p = self.p
        found: Rows = {}
        found["customer"] = list(
            self._run(f"{_select('customer')} WHERE email = {p}", [email]).fetchall()
        )
        found["employee"] = list(
            self._run(f"{_select('employee')} WHERE email = {p}", [email]).fetchall()
        )
        found["report"] = self._by_email("report", email)
        found["visit"] = self._by_email("visit", email)
        employee_ids = _column("employee", found["employee"], "id")
        where = f"email = {p} OR alt_email = {p}"
        params: list[Any] = [email, email]
        if employee_ids:
            condition, more = self._in("employee_id", employee_ids)
            where += f" OR {condition}"
            params += more
        found["service_request"] = list(
            self._run(f"{_select('service_request')} WHERE {where}", params).fetchall()
        )
        customer_ids = _column("customer", found["customer"], "id")
        found["login"] = self._by_ids("login", "customer_id", customer_ids)
        found["orders"] = self._by_ids("orders", "customer_id", customer_ids)
        found["payment_card"] = self._by_ids("payment_card", "customer_id", customer_ids)
        order_ids = _column("orders", found["orders"], "id")
        found["order_item"] = self._by_ids("order_item", "order_id", order_ids)
        product_ids = _distinct(_column("order_item", found["order_item"], "product_id"))
        found["product"] = self._by_ids("product", "id", product_ids)
        address_ids = _distinct(
            _column("customer", found["customer"], "address_id")
            + _column("employee", found["employee"], "address_id")
            + _column("orders", found["orders"], "shipping_address_id")
            + _column("payment_card", found["payment_card"], "billing_address_id")
        )
        found["address"] = self._by_ids("address", "id", address_ids)
        return {table: rows for table, rows in found.items() if rows}

    # -- erasure --------------------------------------------------------------------------

    def erase(self, email: str, *, commit: bool = True) -> Counts:
        """Erase the subject of ``email`` in one transaction; (deleted, updated) per table.
        With ``commit=False`` the transaction is left open (the caller rolls it back)."""
        self._begin(write=True)
        try:
            counts = self._erase(email)
        except BaseException:
            self.rollback()
            raise
        if commit:
            self._commit()
        return counts

    def _erase(self, email: str) -> Counts:
        p, lock = self.p, self.lock
        customers = list(
            self._run(
                f"SELECT id, address_id FROM customer WHERE email = {p}{lock}", [email]
            ).fetchall()
        )
        employees = list(
            self._run(
                f"SELECT id, address_id FROM employee WHERE email = {p}{lock}", [email]
            ).fetchall()
        )
        customer_ids = [c[0] for c in customers]
        employee_ids = [e[0] for e in employees]
        orders: list[tuple[Any, ...]] = []
        cards: list[tuple[Any, ...]] = []
        if customer_ids:
            condition, params = self._in("customer_id", customer_ids)
            orders = list(
                self._run(
                    f"SELECT id, shipping_address_id FROM orders WHERE {condition}{lock}", params
                ).fetchall()
            )
            cards = list(
                self._run(
                    f"SELECT billing_address_id FROM payment_card WHERE {condition}{lock}",
                    params,
                ).fetchall()
            )
        address_ids = _distinct(
            [c[1] for c in customers]
            + [e[1] for e in employees]
            + [o[1] for o in orders]
            + [c[0] for c in cards]
        )
        shared = self._shared_addresses(
            address_ids, customer_ids, employee_ids, [o[0] for o in orders]
        )
        address_ids = [a for a in address_ids if a not in shared]
        counts: Counts = {}

        def delete(table: str, where: str, params: Sequence[Any]) -> None:
            count = self._run(f"DELETE FROM {table} WHERE {where}", params).rowcount
            if count:
                deleted, updated = counts.get(table, (0, 0))
                counts[table] = (deleted + count, updated)

        def update(table: str, values: str, where: str, params: Sequence[Any]) -> None:
            count = self._run(f"UPDATE {table} SET {values} WHERE {where}", params).rowcount
            if count:
                deleted, updated = counts.get(table, (0, 0))
                counts[table] = (deleted, updated + count)

        delete("visit", f"email = {p}", [email])
        delete("report", f"email = {p}", [email])
        where, params = f"email = {p} OR alt_email = {p}", [email, email]
        if employee_ids:
            condition, more = self._in("employee_id", employee_ids)
            where, params = f"{where} OR {condition}", params + more
        delete("service_request", where, params)
        if customer_ids:
            condition, params = self._in("customer_id", customer_ids)
            delete("login", condition, params)
            delete("payment_card", condition, params)
            if orders:
                condition, params = self._in("id", [o[0] for o in orders])
                # orders with order lines stay (the lines point at them), unlinked
                update(
                    "orders",
                    "customer_id = NULL",
                    f"{condition} AND EXISTS "
                    "(SELECT 1 FROM order_item WHERE order_item.order_id = orders.id)",
                    params,
                )
                delete("orders", f"{condition} AND customer_id IS NOT NULL", params)
            condition, params = self._in("id", customer_ids)
            delete("customer", condition, params)
        if employee_ids:
            condition, params = self._in("id", employee_ids)
            delete("employee", condition, params)
        if address_ids:
            condition, params = self._in("id", address_ids)
            update(
                "address",
                "house = NULL, street = NULL, city = NULL, state = NULL, zip = NULL",
                f"{condition} AND {_ADDRESS_IN_USE}",
                params,
            )
            delete("address", f"{condition} AND NOT {_ADDRESS_IN_USE}", params)
        return counts

    def _shared_addresses(
        self,
        address_ids: Sequence[Any],
        customer_ids: Sequence[Any],
        employee_ids: Sequence[Any],
        order_ids: Sequence[Any],
    ) -> set[Any]:
        """Addresses that rows outside the request point at: other subjects' too, untouched."""
        if not address_ids:
            return set()
        parts: list[str] = []
        params: list[Any] = []
        for table, column, key, mine in (
            ("customer", "address_id", "id", customer_ids),
            ("employee", "address_id", "id", employee_ids),
            ("orders", "shipping_address_id", "id", order_ids),
            ("payment_card", "billing_address_id", "customer_id", customer_ids),
        ):
            condition, more = self._in(column, address_ids)
            where = f"{condition} AND {column} IS NOT NULL"
            if mine:
                outside, extra = self._in(key, mine)
                where, more = f"{where} AND NOT ({outside})", more + extra
            elif table == "payment_card":
                where = f"{where} AND (customer_id IS NULL OR customer_id IS NOT NULL)"
            parts.append(f"SELECT {column} FROM {table} WHERE {where}")
            params.extend(more)
        return {row[0] for row in self._run(" UNION ".join(parts), params).fetchall()}

    # -- checking -------------------------------------------------------------------------

    def snapshot(self, email: str, reached: Rows) -> Rows:
        """Every column of the rows ``reached`` names (by key), as the connection sees them
        now: what an erasure left of them."""
        keys: dict[str, tuple[str, list[Any]]] = {
            "visit": ("email", [email]),
            "order_item": ("order_id", _column("orders", reached.get("orders", []), "id")),
        }
        for table, rows in reached.items():
            if "id" in FIELDS[table]:
                keys[table] = ("id", _column(table, rows, "id"))
        out: Rows = {}
        for table, (column, values) in keys.items():
            if not values:
                continue
            condition, params = self._in(column, values)
            rows = self.connection.execute(f"SELECT * FROM {table} WHERE {condition}", params)
            out[table] = sorted((tuple(r) for r in rows.fetchall()), key=repr)
        return out
