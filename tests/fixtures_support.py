"""Loading the Fides sample shop (tests/fixtures/fides-shop) into a database.

The SQL is PostgreSQL's; :func:`sqlite_statements` and :func:`mysql_statements` translate it
mechanically for SQLite and for MySQL/MariaDB, and :func:`postgres_statements` moves it into
a schema of its own, so that tests can run next to others that use the ``public`` schema of
the same database.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]

#: a MySQL or MariaDB server the tests may create databases on (tests needing one are
#: left out when it is not set)
MYSQL_URL = os.environ.get("TUTELA_TEST_MYSQL_URL", "")


FIXTURE = ROOT / "tests" / "fixtures" / "fides-shop"  # copied with its NOTICE.md
DATASET_FILE = FIXTURE / "postgres_example_test_dataset.yml"
SQL_FILE = FIXTURE / "postgres_sample.sql"

#: PostgreSQL column types and what SQLite is given instead (applied in this order).
SQLITE_TYPES: tuple[tuple[str, str], ...] = (
    (r"\bSERIAL\s+PRIMARY\s+KEY\b", "INTEGER PRIMARY KEY"),
    (r"\bCHARACTER\s+VARYING\s*\((\d+)\)", r"VARCHAR(\1)"),
    (r"\bTIMESTAMP(?:\s+WITH(?:OUT)?\s+TIME\s+ZONE)?\b", "TEXT"),
    (r"\bDATE\b", "TEXT"),
    (r"\bMONEY\b", "TEXT"),
)


def split_statements(sql: str) -> list[str]:
    """Statements of an SQL script: comments dropped, split at semicolons outside quotes."""
    statements: list[str] = []
    current: list[str] = []
    quoted = False
    for line in sql.splitlines():
        if not quoted and line.lstrip().startswith("--"):
            continue
        for char in line:
            if char == "'":
                quoted = not quoted
            if char == ";" and not quoted:
                statements.append("".join(current).strip())
                current = []
            else:
                current.append(char)
        current.append("\n")
    rest = "".join(current).strip()
    if rest:
        statements.append(rest)
    return [s for s in statements if s]


def sqlite_statements(sql: str) -> list[str]:
    """The script for SQLite: no schemas, no sequences, SQLite's column types."""
    return _without_schemas(sql, SQLITE_TYPES)


def _without_schemas(sql: str, types: tuple[tuple[str, str], ...]) -> list[str]:
    """The script without schemas and sequences, its column types replaced by ``types``."""
    out = []
    for original in split_statements(sql):
        upper = original.upper()
        if upper.startswith(("ALTER SEQUENCE", "CREATE SCHEMA")) or "BACKUP_SCHEMA." in upper:
            continue
        statement = re.sub(r"\bpublic\.", "", original)
        if upper.startswith("CREATE TABLE"):
            for pattern, replacement in types:
                statement = re.sub(pattern, replacement, statement, flags=re.IGNORECASE)
        out.append(statement)
    return out


def postgres_statements(sql: str, schema: str) -> list[str]:
    """The script with ``public`` (and its backup schema) renamed to ``schema``."""
    renames = (
        (r"\bpublic\.", f"{schema}."),
        (r"\bbackup_schema\b", f"{schema}_backup"),
        (r"^ALTER SEQUENCE (\w+)", rf"ALTER SEQUENCE {schema}.\1"),
    )
    out = []
    for original in split_statements(sql):
        statement = original
        for pattern, replacement in renames:
            statement = re.sub(pattern, replacement, statement, flags=re.IGNORECASE)
        out.append(statement)
    return out


#: PostgreSQL column types and what MySQL and MariaDB are given instead.
MYSQL_TYPES: tuple[tuple[str, str], ...] = (
    (r"\bSERIAL\s+PRIMARY\s+KEY\b", "INT AUTO_INCREMENT PRIMARY KEY"),
    (r"\bCHARACTER\s+VARYING\s*\((\d+)\)", r"VARCHAR(\1)"),
    (r"\bTIMESTAMP(?:\s+WITH(?:OUT)?\s+TIME\s+ZONE)?\b", "DATETIME"),
    (r"\bMONEY\b", "VARCHAR(20)"),
)


def mysql_statements(sql: str) -> list[str]:
    """The script for MySQL and MariaDB: no schemas, no sequences, their column types."""
    return _without_schemas(sql, MYSQL_TYPES)


@contextmanager
def mysql_database(url: str, script: list[str]) -> Iterator[str]:
    """A database of its own on the MySQL or MariaDB server at ``url``, filled by
    ``script``; yields its URL and drops the database afterwards."""
    name = f"tutela_test_{os.getpid()}_{next(_counter)}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        own = make_url(url).set(database=name).render_as_string(hide_password=False)
        engine = create_engine(own)
        with engine.begin() as connection:
            for statement in script:
                connection.exec_driver_sql(statement)
        engine.dispose()
        yield own
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def mysql_shop(url: str) -> AbstractContextManager[str]:
    """The sample shop in a database of its own (see :func:`mysql_database`)."""
    return mysql_database(url, mysql_statements(SQL_FILE.read_text(encoding="utf-8")))


def load_sqlite(path: Path) -> str:
    """A new SQLite file holding the sample shop; returns its URL."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in sqlite_statements(SQL_FILE.read_text(encoding="utf-8")):
            connection.exec_driver_sql(statement)
    engine.dispose()
    return url


_counter = itertools.count()


@contextmanager
def postgres_schema(url: str, script: Callable[[str], list[str]]) -> Iterator[str]:
    """A schema of its own in the database at ``url``, filled by ``script(schema)``; yields
    a URL whose search_path is that schema, and drops the schema afterwards."""
    schema = f"shop_test_{os.getpid()}_{next(_counter)}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
            connection.execute(text(f"SET LOCAL search_path TO {schema}"))
            for statement in script(schema):
                connection.exec_driver_sql(statement)
        shop_url = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield shop_url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema}_backup CASCADE"))
        admin.dispose()


def postgres_shop(url: str) -> AbstractContextManager[str]:
    """The sample shop in a schema of its own (see :func:`postgres_schema`)."""
    sql = SQL_FILE.read_text(encoding="utf-8")
    return postgres_schema(url, lambda schema: postgres_statements(sql, schema))
