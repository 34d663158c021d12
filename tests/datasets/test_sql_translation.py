"""The mechanical translation of the fixture's PostgreSQL script for SQLite."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests.fixtures_support import (
    SQL_FILE,
    load_sqlite,
    postgres_statements,
    split_statements,
    sqlite_statements,
)


def test_types_schemas_and_sequences_are_translated() -> None:
    script = """
-- a comment; with a semicolon
CREATE TABLE public.t (
    id SERIAL PRIMARY KEY,
    name CHARACTER VARYING(40),
    seen TIMESTAMP,
    born date,
    paid MONEY
);
INSERT INTO public.t VALUES (1, 'a;b', '2021-01-01 01:00:00', '2000-01-01', '$1.00');
ALTER SEQUENCE t_id_seq RESTART WITH 10;
CREATE SCHEMA backup_schema;
CREATE TABLE backup_schema.t (LIKE public.t INCLUDING ALL);
"""
    assert sqlite_statements(script) == [
        "CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    name VARCHAR(40),\n"
        "    seen TEXT,\n    born TEXT,\n    paid TEXT\n)",
        "INSERT INTO t VALUES (1, 'a;b', '2021-01-01 01:00:00', '2000-01-01', '$1.00')",
    ]
    moved = postgres_statements(script, "shop_x")
    assert moved[0].startswith("CREATE TABLE shop_x.t (")
    assert moved[2] == "ALTER SEQUENCE shop_x.t_id_seq RESTART WITH 10"
    assert moved[-1] == "CREATE TABLE shop_x_backup.t (LIKE shop_x.t INCLUDING ALL)"


def test_the_whole_fixture_loads_into_sqlite(tmp_path: Path) -> None:
    load_sqlite(tmp_path / "shop.db")
    inserted: dict[str, int] = {}
    for statement in split_statements(SQL_FILE.read_text(encoding="utf-8")):
        match = re.match(r"INSERT INTO public\.(\w+) VALUES(.*)", statement, re.S)
        if match:
            rows = re.findall(r"^\s*\(", match.group(2), re.M)
            inserted[match.group(1)] = inserted.get(match.group(1), 0) + len(rows)
    with sqlite3.connect(tmp_path / "shop.db") as connection:
        for table, count in inserted.items():
            (found,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert found == count, table
        ((declared,),) = connection.execute(
            "SELECT type FROM pragma_table_info('customer') WHERE name = 'email'"
        ).fetchall()
    assert declared == "VARCHAR(100)"
    assert inserted["login"] == 8
