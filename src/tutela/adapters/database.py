"""Engines for SQLite (embedded default) and PostgreSQL (production), tuned once here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from tutela.domain.errors import ConfigurationError

#: execution option marking a transaction that only reads (SQLite: no write lock)
READ_ONLY = "tutela_read_only"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


#: URL schemes without a driver, and the driver Tutela's extras install for them.
DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
#: driver module -> the extra of Tutela that installs it
DRIVER_EXTRAS = {"psycopg": "postgres", "pymysql": "mysql"}

#: Seconds after which a pooled connection is replaced rather than reused (without pre-ping).
POOL_RECYCLE = 1800


def make_engine(url: str, *, pool: bool = True, pre_ping: bool = True) -> Engine:
    """An engine for ``url``. SQLite gets WAL, NORMAL sync and write-locking transactions.

    With ``pre_ping`` (the default) a pooled connection is tested before each use. Without
    it no round trip is spent on the test: connections are recycled after
    :data:`POOL_RECYCLE` seconds, and a statement failing on a dropped connection
    invalidates the pool (SQLAlchemy's optimistic disconnect handling), so the caller can
    retry on a fresh connection.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"not a database URL: {parsed_safe(url)}; use sqlite:///path/to/file.db, "
            "postgresql+psycopg://user@host/dbname or mysql+pymysql://user@host/dbname"
        ) from None
    if parsed.drivername in DEFAULT_DRIVERS:  # the driver Tutela installs, not SQLAlchemy's
        parsed = parsed.set(drivername=DEFAULT_DRIVERS[parsed.drivername])
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(parsed.database, url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True} if pre_ping else {"pool_recycle": POOL_RECYCLE}
    if not pool:
        kwargs = {"poolclass": NullPool}
    try:
        return create_engine(parsed, **kwargs)
    except ModuleNotFoundError as exc:
        extra = DRIVER_EXTRAS.get(exc.name or "")
        fix = f"install tutela[{extra}]" if extra else f"install the driver {exc.name}"
        missing = f"the database driver {exc.name} is not installed"
        raise ConfigurationError(f"{missing}; {fix}") from None


def parsed_safe(url: str) -> str:
    """A URL for messages: the password is never shown."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _sqlite_engine(database: str | None, url: str) -> Engine:
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Tutela transactions write (at least their audit entry): take the write lock up
        # front so two writers queue instead of failing on lock upgrade. Pure reads opt out.
        # Sent on the driver's connection: a statement through SQLAlchemy would cost as
        # much as a short transaction's own work.
        read_only = conn.get_execution_options().get(READ_ONLY)
        conn.connection.driver_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
