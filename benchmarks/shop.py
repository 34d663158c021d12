"""A generated shop database shaped like the Fides sample shop, at any number of customers.

The tables and columns are those of the fixture (``tests/fixtures/fides-shop``) that its
dataset file declares: product, address, customer, employee, payment_card, orders,
order_item, visit, login, service_request and report, with the same types (PostgreSQL's, or
their SQLite translation as in ``examples/fides-shop/shop.sql``). Customer ``c`` has:

* its email ``customer-c@example.com``, a home address (also its card's billing address),
  one payment card, a visit and two logins;
* ``c % 4`` orders (0 to 3) shipped home, each with one or two order lines; when
  ``c % 20 == 3`` its first order is a gift shipped to the next customer's address, so that
  an address can be pointed at by a row of another customer;
* a service request when ``c`` is even (with an alternative email when ``c % 6 == 0``) and
  a report when ``c % 100 == 0``.

One employee per thousand customers (at least ten) handles the service requests, each with
an address of its own; there are 100 products. That is 10.5 rows per customer.

Rows are made inside the database by one ``INSERT … SELECT`` per table (a recursive CTE on
SQLite, ``generate_series`` on PostgreSQL), then the indexes a user of the dataset should
have are created (every identity column and every reference column the dataset declares),
then the statistics are gathered (``ANALYZE``; ``VACUUM ANALYZE`` on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

PRODUCTS = 100

#: The fixture's tables that the dataset declares, as PostgreSQL creates them.
POSTGRES_TABLES = """
CREATE TABLE product (
    id SERIAL PRIMARY KEY,
    name CHARACTER VARYING(100),
    description CHARACTER VARYING(200),
    url CHARACTER VARYING(200),
    price MONEY
);
CREATE TABLE address (
    id SERIAL PRIMARY KEY,
    house INT,
    street CHARACTER VARYING(100),
    city CHARACTER VARYING(100),
    state CHARACTER VARYING(100),
    zip CHARACTER VARYING(100)
);
CREATE TABLE customer (
    id SERIAL PRIMARY KEY,
    email CHARACTER VARYING(100),
    name  CHARACTER VARYING(100),
    created TIMESTAMP,
    address_id BIGINT
);
CREATE TABLE employee (
    id SERIAL PRIMARY KEY,
    email CHARACTER VARYING(100),
    name CHARACTER VARYING(100),
    address_id BIGINT
);
CREATE TABLE payment_card (
    id CHARACTER VARYING(100) PRIMARY KEY,
    name CHARACTER VARYING(100),
    ccn BIGINT,
    code SMALLINT,
    preferred BOOLEAN,
    customer_id INT,
    billing_address_id BIGINT
);
CREATE TABLE orders (
    id CHARACTER VARYING(100) PRIMARY KEY,
    customer_id INT,
    shipping_address_id BIGINT,
    payment_card_id CHARACTER VARYING(100)
);
CREATE TABLE order_item (
    order_id CHARACTER VARYING(100),
    item_no SMALLINT,
    product_id INT,
    quantity SMALLINT,
    CONSTRAINT order_item_pk PRIMARY KEY (order_id, item_no)
);
CREATE TABLE visit (
    email CHARACTER VARYING(100),
    last_visit TIMESTAMP,
    CONSTRAINT visit_pk PRIMARY KEY (email, last_visit)
);
CREATE TABLE login (
    id INT PRIMARY KEY,
    customer_id INT,
    time TIMESTAMP
);
CREATE TABLE service_request (
    id CHARACTER VARYING(100) PRIMARY KEY,
    email CHARACTER VARYING(100),
    alt_email CHARACTER VARYING(100),
    opened DATE,
    closed DATE,
    employee_id INT
);
CREATE TABLE report (
    id INT PRIMARY KEY,
    email CHARACTER VARYING(100),
    name CHARACTER VARYING(100),
    year INT,
    month INT,
    total_visits INT
);
"""

#: PostgreSQL column types and SQLite's (as ``examples/fides-shop/shop.sql`` has them).
SQLITE_TYPES = (
    ("SERIAL PRIMARY KEY", "INTEGER PRIMARY KEY"),
    ("CHARACTER VARYING", "VARCHAR"),
    ("TIMESTAMP", "TEXT"),
    ("DATE", "TEXT"),
    ("MONEY", "TEXT"),
)

TABLES = (
    "product",
    "address",
    "customer",
    "employee",
    "payment_card",
    "orders",
    "order_item",
    "visit",
    "login",
    "service_request",
    "report",
)

#: The indexes a user of the dataset should have: every identity column and every column a
#: reference of the dataset names, unless a primary key already starts with it
#: (``visit.email``, ``order_item.order_id``).
INDEXES = (
    ("customer", "email"),
    ("customer", "address_id"),
    ("employee", "email"),
    ("employee", "address_id"),
    ("report", "email"),
    ("service_request", "email"),
    ("service_request", "alt_email"),
    ("service_request", "employee_id"),
    ("login", "customer_id"),
    ("orders", "customer_id"),
    ("orders", "shipping_address_id"),
    ("order_item", "product_id"),
    ("payment_card", "customer_id"),
    ("payment_card", "billing_address_id"),
)
COVERED_BY_PRIMARY_KEY = (("visit", "email"), ("order_item", "order_id"))


def employees(customers: int) -> int:
    return max(10, customers // 1000)


def email(customer: int) -> str:
    return f"customer-{customer}@example.com"


# -- the rows, per backend ------------------------------------------------------------------
#
# ``{seq}`` is a source of rows ``s(c)`` numbered 1 … n, ``{pad}`` zero-pads ``s.c`` to seven
# digits (ids that sort in insertion order), ``{ts}``/``{day}`` make a timestamp/date of an
# integer expression, ``{true}`` is a boolean of a condition. Each template is filled per
# backend below.

_ROWS: tuple[tuple[str, str, str], ...] = (
    (
        "product",
        "{products}",
        "INSERT INTO product (id, name, description, url, price) "
        "SELECT s.c, 'Cookie ' || s.c, 'A cookie of the sample shop', "
        "'https://shop.example.com/cookie/' || s.c, '$20.00' FROM {seq}",
    ),
    (
        "address",
        "{addresses}",
        "INSERT INTO address (id, house, street, city, state, zip) "
        "SELECT s.c, s.c % 997 + 1, 'Example Street ' || s.c, 'Town ' || (s.c % 500), "
        "'S' || (s.c % 50), {zip} FROM {seq}",
    ),
    (
        "customer",
        "{n}",
        "INSERT INTO customer (id, email, name, created, address_id) "
        "SELECT s.c, 'customer-' || s.c || '@example.com', 'Customer ' || s.c, {ts_c}, s.c "
        "FROM {seq}",
    ),
    (
        "employee",
        "{employees}",
        "INSERT INTO employee (id, email, name, address_id) "
        "SELECT s.c, 'employee-' || s.c || '@example.com', 'Employee ' || s.c, {n} + s.c "
        "FROM {seq}",
    ),
    (
        "payment_card",
        "{n}",
        "INSERT INTO payment_card (id, name, ccn, code, preferred, customer_id, "
        "billing_address_id) "
        "SELECT 'pay_' || {pad}, 'Card ' || s.c, 4000000000000000 + s.c, s.c % 1000, "
        "{preferred}, s.c, s.c FROM {seq}",
    ),
    (
        "orders",
        "{n}",
        "INSERT INTO orders (id, customer_id, shipping_address_id, payment_card_id) "
        "SELECT 'ord_' || {pad} || '_' || k.j, s.c, "
        "CASE WHEN k.j = 0 AND s.c % 20 = 3 THEN s.c % {n} + 1 ELSE s.c END, 'pay_' || {pad} "
        "FROM {seq} CROSS JOIN {k3} WHERE k.j < s.c % 4",
    ),
    (
        "order_item",
        "{n}",
        "INSERT INTO order_item (order_id, item_no, product_id, quantity) "
        "SELECT 'ord_' || {pad} || '_' || k.j, i.i, (s.c * 7 + k.j * 3 + i.i) % {products} + 1, "
        "1 + (s.c + i.i) % 3 "
        "FROM {seq} CROSS JOIN {k3} CROSS JOIN {i2} "
        "WHERE k.j < s.c % 4 AND i.i <= 1 + (s.c + k.j) % 2",
    ),
    (
        "visit",
        "{n}",
        "INSERT INTO visit (email, last_visit) "
        "SELECT 'customer-' || s.c || '@example.com', {ts_c} FROM {seq}",
    ),
    (
        "login",
        "{n}",
        "INSERT INTO login (id, customer_id, time) "
        "SELECT 2 * s.c - 1 + k.j, s.c, {ts_login} FROM {seq} CROSS JOIN {k2}",
    ),
    (
        "service_request",
        "{n}",
        "INSERT INTO service_request (id, email, alt_email, opened, closed, employee_id) "
        "SELECT 'ser_' || {pad}, 'customer-' || s.c || '@example.com', "
        "CASE WHEN s.c % 6 = 0 THEN 'customer-' || s.c || '-alt@example.com' END, "
        "{opened}, CASE WHEN s.c % 4 = 0 THEN NULL ELSE {closed} END, s.c % {employees} + 1 "
        "FROM {seq} WHERE s.c % 2 = 0",
    ),
    (
        "report",
        "{reports}",
        "INSERT INTO report (id, email, name, year, month, total_visits) "
        "SELECT s.c, 'customer-' || (s.c * 100) || '@example.com', 'Monthly Report', 2021, "
        "s.c % 12 + 1, s.c % 1000 FROM {seq}",
    ),
)


def _counts(customers: int) -> dict[str, int]:
    return {
        "n": customers,
        "products": PRODUCTS,
        "employees": employees(customers),
        "addresses": customers + employees(customers),
        "reports": customers // 100,
    }


def _sqlite_rows(customers: int) -> list[tuple[str, str]]:
    counts = _counts(customers)
    out = []
    for table, size, template in _ROWS:
        limit = int(size.format(**counts))
        if limit < 1:
            continue
        seq = "s"
        sql = template.format(
            seq=seq,
            pad="printf('%07d', s.c)",
            zip="printf('%05d', s.c % 100000)",
            ts_c="printf('2021-%02d-%02d %02d:%02d:00', s.c % 12 + 1, s.c % 28 + 1, "
            "s.c % 24, s.c % 60)",
            ts_login="printf('2022-%02d-%02d %02d:%02d:00', (s.c + k.j) % 12 + 1, "
            "s.c % 28 + 1, k.j, s.c % 60)",
            opened="printf('2021-%02d-%02d', s.c % 12 + 1, s.c % 28 + 1)",
            closed="printf('2022-%02d-%02d', s.c % 12 + 1, s.c % 28 + 1)",
            preferred="s.c % 2 = 0",
            k3="(SELECT 0 AS j UNION ALL SELECT 1 UNION ALL SELECT 2) AS k",
            k2="(SELECT 0 AS j UNION ALL SELECT 1) AS k",
            i2="(SELECT 1 AS i UNION ALL SELECT 2) AS i",
            **counts,
        )
        cte = f"WITH RECURSIVE s(c) AS (SELECT 1 UNION ALL SELECT c + 1 FROM s WHERE c < {limit}) "
        out.append((table, cte + sql))
    return out


def _postgres_rows(customers: int) -> list[tuple[str, str]]:
    counts = _counts(customers)
    out = []
    for table, size, template in _ROWS:
        limit = int(size.format(**counts))
        if limit < 1:
            continue
        sql = template.format(
            seq=f"generate_series(1, {limit}) AS s(c)",
            pad="lpad(s.c::text, 7, '0')",
            zip="lpad((s.c % 100000)::text, 5, '0')",
            ts_c="timestamp '2021-01-01' + (s.c % 31536000) * interval '1 second'",
            ts_login="timestamp '2022-01-01' + (s.c % 31536000 + k.j * 3600) * interval '1 second'",
            opened="date '2021-01-01' + s.c % 365",
            closed="date '2022-01-01' + s.c % 365",
            preferred="s.c % 2 = 0",
            k3="generate_series(0, 2) AS k(j)",
            k2="generate_series(0, 1) AS k(j)",
            i2="generate_series(1, 2) AS i(i)",
            **counts,
        )
        out.append((table, sql))
    return out


def sqlite_tables() -> list[str]:
    script = POSTGRES_TABLES
    for postgres, sqlite in SQLITE_TYPES:
        script = script.replace(postgres, sqlite)
    return [s.strip() for s in script.split(";") if s.strip()]


def postgres_tables() -> list[str]:
    return [s.strip() for s in POSTGRES_TABLES.split(";") if s.strip()]


def index_statements() -> list[str]:
    return [f"CREATE INDEX {t}_{c}_idx ON {t} ({c})" for t, c in INDEXES]


# -- the databases --------------------------------------------------------------------------


@dataclass
class Generated:
    """A shop database: its URL for Tutela, how it was made and how long that took."""

    backend: str  # "SQLite" | "PostgreSQL"
    url: str  # SQLAlchemy URL (PostgreSQL: its search_path is the benchmark's schema)
    customers: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # rows, indexes, analyze
    path: Path | None = None  # SQLite file
    schema: str | None = None  # PostgreSQL schema

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "customers": self.customers,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "generation_seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "generation_total_seconds": round(self.total_seconds, 2),
        }


def generate_sqlite(path: Path, customers: int) -> Generated:
    """A new SQLite file at ``path``; left in WAL mode, as Tutela opens it."""
    shop = Generated("SQLite", f"sqlite:///{path}", customers, path=path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=OFF")  # generation only: one big transaction
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")  # 256 MiB while building indexes
        began = time.perf_counter()
        connection.execute("BEGIN")
        for statement in sqlite_tables():
            connection.execute(statement)
        for table, statement in _sqlite_rows(customers):
            before = connection.total_changes
            connection.execute(statement)
            shop.rows[table] = connection.total_changes - before
        connection.execute("COMMIT")
        shop.seconds["rows"] = time.perf_counter() - began
        began = time.perf_counter()
        connection.execute("BEGIN")
        for statement in index_statements():
            connection.execute(statement)
        connection.execute("COMMIT")
        shop.seconds["indexes"] = time.perf_counter() - began
        began = time.perf_counter()
        connection.execute("ANALYZE")
        shop.seconds["analyze"] = time.perf_counter() - began
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
    return shop


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it (no driver name)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``schema`` as its search_path (the fixture tests do the same)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    parsed = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres(url: str, customers: int, label: str = "") -> Iterator[Generated]:
    """The shop in a schema of its own in the database at ``url``, dropped afterwards."""
    import psycopg

    schema = f"tutela_bench_{os.getpid()}{label}"
    shop = Generated("PostgreSQL", schema_url(url, schema), customers, schema=schema)
    with psycopg.connect(libpq_url(url), autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            admin.execute(f"SET search_path TO {schema}")
            admin.execute("SET maintenance_work_mem = '256MB'")
            began = time.perf_counter()
            with admin.transaction():
                for statement in postgres_tables():
                    admin.execute(statement)
                for table, statement in _postgres_rows(customers):
                    shop.rows[table] = admin.execute(statement).rowcount
            shop.seconds["rows"] = time.perf_counter() - began
            began = time.perf_counter()
            for statement in index_statements():
                admin.execute(statement)
            shop.seconds["indexes"] = time.perf_counter() - began
            began = time.perf_counter()
            for table in TABLES:
                admin.execute(f"VACUUM ANALYZE {table}")
            shop.seconds["analyze"] = time.perf_counter() - began
            yield shop
        finally:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
