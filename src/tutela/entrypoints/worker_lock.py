"""One worker per embedded (SQLite) data directory; any number on PostgreSQL."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from tutela.adapters.database import is_sqlite
from tutela.domain.errors import ConfigurationError
from tutela.settings import Settings


@contextmanager
def single_worker(settings: Settings) -> Iterator[None]:
    if not is_sqlite(settings.database_url):
        yield  # PostgreSQL: workers coordinate through SKIP LOCKED
        return
    path = settings.data_dir / "worker.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the worker's lifetime
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ConfigurationError(
                f"another worker (pid {holder}) is already running on {settings.data_dir}; "
                "the embedded SQLite database takes one worker — run several only on "
                "PostgreSQL"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
