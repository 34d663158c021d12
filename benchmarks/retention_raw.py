"""The raw limit of a retention sweep: the same deletions written by hand, in batches.

What an engineer who knows the data would write on the bare driver (``sqlite3`` with
Tutela's pragmas, ``BEGIN IMMEDIATE``; ``psycopg``), with no decisions to make (every row
generated as expired is known to be expired) and no audit entries:

* **vault**: a keyset walk over the tenant's subjects in registration order, ``BATCH``
  subjects per transaction; each batch deletes their fields and lookups and marks them
  erased (``DELETE … WHERE subject_id = ?`` and ``UPDATE``, executed many), commits, then
  deletes their data keys in the key store and commits that;
* **dataset**: ``DELETE FROM access_log WHERE id IN (SELECT id FROM access_log WHERE
  requested_at <= ? LIMIT ?)``, one transaction per batch, until a batch deletes fewer rows
  than it could.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

#: subjects or rows per transaction, as Tutela's sweeps
VAULT_BATCH = 2000
DATASET_BATCH = 5000


@dataclass(frozen=True)
class Swept:
    rows: int
    seconds: float


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with Tutela's SQLite settings; transactions are begun explicitly."""
    con = sqlite3.connect(path, isolation_level=None, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=30000")
    return con


def sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database:
        raise ValueError(f"not an SQLite file: {url}")
    return database


# -- the vault ------------------------------------------------------------------------------

_NEXT = (
    "SELECT id, created_at FROM subjects WHERE tenant_id = ? AND status <> 'erased' "
    "AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?"
)
_DELETE_FIELDS = "DELETE FROM subject_fields WHERE tenant_id = ? AND subject_id = ?"
_DELETE_LOOKUPS = "DELETE FROM subject_lookups WHERE tenant_id = ? AND subject_id = ?"
_ERASE = "UPDATE subjects SET status = 'erased', updated_at = ? WHERE tenant_id = ? AND id = ?"
_DELETE_KEY = "DELETE FROM subject_keys WHERE subject_id = ?"


def sweep_vault_sqlite(database_url: str, keystore_url: str, tenant: str = "default") -> Swept:
    main = connect(sqlite_path(database_url))
    keys = connect(sqlite_path(keystore_url))
    began = time.perf_counter()
    done = 0
    after: tuple[int, str] = (-1, "")
    try:
        while True:
            main.execute("BEGIN IMMEDIATE")
            batch = main.execute(
                _NEXT, (tenant, after[0], after[0], after[1], VAULT_BATCH)
            ).fetchall()
            if not batch:
                main.execute("COMMIT")
                break
            after = (batch[-1][1], batch[-1][0])
            now = time.time_ns() // 1000
            pairs = [(tenant, sid) for sid, _ in batch]
            main.executemany(_DELETE_FIELDS, pairs)
            main.executemany(_DELETE_LOOKUPS, pairs)
            main.executemany(_ERASE, [(now, tenant, sid) for sid, _ in batch])
            keys.execute("BEGIN IMMEDIATE")
            keys.executemany(_DELETE_KEY, [(sid,) for sid, _ in batch])
            keys.execute("COMMIT")
            main.execute("COMMIT")
            done += len(batch)
    finally:
        main.close()
        keys.close()
    return Swept(done, time.perf_counter() - began)


def sweep_vault_postgres(database_url: str, keystore_url: str, tenant: str = "default") -> Swept:
    import psycopg

    url = make_url(database_url).set(drivername="postgresql")
    options = dict(url.query).get("options")
    conninfo = url.set(query={}).render_as_string(hide_password=False)
    keys = connect(sqlite_path(keystore_url))
    began = time.perf_counter()
    done = 0
    after: tuple[int, str] = (-1, "")
    with psycopg.connect(conninfo, options=str(options or "")) as main:
        while True:
            with main.transaction():
                batch = main.execute(
                    _pg(_NEXT), (tenant, after[0], after[0], after[1], VAULT_BATCH)
                ).fetchall()
                if not batch:
                    break
                after = (batch[-1][1], batch[-1][0])
                now = time.time_ns() // 1000
                ids = [sid for sid, _ in batch]
                main.execute(
                    "DELETE FROM subject_fields WHERE tenant_id = %s AND subject_id = ANY(%s)",
                    (tenant, ids),
                )
                main.execute(
                    "DELETE FROM subject_lookups WHERE tenant_id = %s AND subject_id = ANY(%s)",
                    (tenant, ids),
                )
                main.execute(
                    "UPDATE subjects SET status = 'erased', updated_at = %s "
                    "WHERE tenant_id = %s AND id = ANY(%s)",
                    (now, tenant, ids),
                )
                keys.execute("BEGIN IMMEDIATE")
                keys.executemany(_DELETE_KEY, [(sid,) for sid in ids])
                keys.execute("COMMIT")
            done += len(batch)
    keys.close()
    return Swept(done, time.perf_counter() - began)


def _pg(statement: str) -> str:
    return statement.replace("?", "%s")


def sweep_vault(database_url: str, keystore_url: str) -> Swept:
    if database_url.startswith("postgresql"):
        return sweep_vault_postgres(database_url, keystore_url)
    return sweep_vault_sqlite(database_url, keystore_url)


# -- the dataset ----------------------------------------------------------------------------

_DELETE_DUE = (
    "DELETE FROM access_log WHERE id IN (SELECT id FROM access_log WHERE requested_at <= ? LIMIT ?)"
)


def sweep_dataset(url: str, cutoff: Any) -> Swept:
    """Delete every row requested at or before ``cutoff``, ``DATASET_BATCH`` per transaction."""
    began = time.perf_counter()
    done = 0
    if url.startswith("postgresql"):
        import psycopg

        parsed = make_url(url).set(drivername="postgresql")
        options = dict(parsed.query).get("options")
        conninfo = parsed.set(query={}).render_as_string(hide_password=False)
        with psycopg.connect(conninfo, options=str(options or "")) as connection:
            while True:
                with connection.transaction():
                    count = connection.execute(_pg(_DELETE_DUE), (cutoff, DATASET_BATCH)).rowcount
                done += count
                if count < DATASET_BATCH:
                    break
        return Swept(done, time.perf_counter() - began)
    connection = connect(sqlite_path(url))
    try:
        while True:
            connection.execute("BEGIN IMMEDIATE")
            count = connection.execute(_DELETE_DUE, (cutoff, DATASET_BATCH)).rowcount
            connection.execute("COMMIT")
            done += count
            if count < DATASET_BATCH:
                break
    finally:
        connection.close()
    return Swept(done, time.perf_counter() - began)
