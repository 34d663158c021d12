"""A connection per thread, kept out of the engine's pool, for a SQLite database file.

Taking a connection from SQLAlchemy's pool and handing it back (with the pool's rollback)
costs about 25 µs, as much as a data-subject request's whole read on SQLite. For a database
file a connection is only an open file, so each thread that runs requests keeps one:
taken from the pool once and detached from it (the pool's size is unaffected), used for
one transaction at a time, and closed when the engine is disposed of, when its thread
ends, or when the database drops it (the next request opens another).

Not for ``:memory:`` databases: a new connection would be a new, empty database.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import PoolProxiedConnection

_registry: weakref.WeakKeyDictionary[Engine, HeldConnections] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def held_connections(engine: Engine) -> HeldConnections | None:
    """The engine's connections per thread; ``None`` unless it is a SQLite database file."""
    if not _suits(engine):
        return None
    with _registry_lock:
        held = _registry.get(engine)
        if held is None:
            held = _registry[engine] = HeldConnections(engine)
            event.listen(engine, "engine_disposed", held.on_disposed)
    return held


def _suits(engine: Engine) -> bool:
    url = engine.url
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    return engine.dialect.name == "sqlite" and not in_memory


class HeldConnections:
    """Per thread, one detached pooled connection of ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._local = threading.local()
        self._all: weakref.WeakSet[PoolProxiedConnection] = weakref.WeakSet()
        self._lock = threading.Lock()

    def take(self) -> PoolProxiedConnection:
        """This thread's connection, opened on first use or after the last one was lost."""
        held: PoolProxiedConnection | None = getattr(self._local, "connection", None)
        if held is not None and held.is_valid:
            return held
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the engine was garbage-collected")
        held = engine.raw_connection()
        held.detach()  # closed by us, not returned to the pool
        self._local.connection = held
        with self._lock:
            self._all.add(held)
        return held

    def end(self, held: PoolProxiedConnection) -> None:
        """Roll back what the transaction left open; a connection that fails to is dropped."""
        if not held.is_valid:
            return
        try:
            held.dbapi_connection.rollback()  # type: ignore[union-attr]
        except Exception:
            held.close()  # detached: closes the driver's connection
            raise

    def on_disposed(self, _engine: Any) -> None:
        """Close every thread's connection (the engine was disposed of)."""
        with self._lock:
            held = list(self._all)
            self._all.clear()
        for connection in held:
            with contextlib.suppress(Exception):  # it may be gone already
                connection.close()
