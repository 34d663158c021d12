"""Connectors to the organization's own data stores (the port: ``tutela.datasets.ports``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tutela.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from tutela.adapters.connectors.http import HttpConnector
    from tutela.adapters.connectors.sql import SqlConnector
    from tutela.declarations.models import Dataset as DatasetEntry


def open_sql_connectors(
    entry: DatasetEntry,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    parents: Mapping[str, str] | None = None,
    hash_key: bytes | None = None,
    elsewhere: Iterable[str] = (),
    known_categories: frozenset[str] | None = None,
) -> list[SqlConnector]:
    """One connector per dataset of a declared dataset file, on the URL its ``env:NAME``
    connection names. The connectors share one engine; close any of them to dispose of it.
    ``parents`` and ``known_categories`` carry the declarations' taxonomy extensions."""
    from tutela.adapters.connectors.sql import SqlConnector
    from tutela.adapters.database import make_engine
    from tutela.datasets.loading import load_datasets

    if entry.file is None or entry.connection is None:
        raise ConfigurationError(f"{entry.name}: not a database (it has no file and connection)")
    name = entry.connection.removeprefix("env:")
    url = (os.environ if environ is None else environ).get(name)
    if not url:
        raise ConfigurationError(
            f"{name} is not set; put the URL of the database described by {entry.file} in it",
            details={"variable": name},
        )
    datasets = load_datasets(
        base_dir / entry.file, elsewhere=elsewhere, known_categories=known_categories
    )
    engine = make_engine(url, pre_ping=False)  # the connectors retry on a disconnect
    return [
        SqlConnector(
            engine,
            dataset,
            erasure=entry.erasure,
            correctable=entry.correctable,
            parents=parents,
            hash_key=hash_key,
            retention={name: r.dated_by for name, r in entry.retention.items()},
        )
        for dataset in datasets
    ]


def open_http_connector(
    entry: DatasetEntry, *, environ: Mapping[str, str] | None = None
) -> HttpConnector:
    """The connector of a declared application endpoint; its secret is read when used."""
    from tutela.adapters.connectors import http

    return http.open_http_connector(entry, environ=environ)
