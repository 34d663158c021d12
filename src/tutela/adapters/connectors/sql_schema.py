"""The live tables of a dataset: reflected once, with each column's kind, length and nullability."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    Uuid,
    inspect,
)
from sqlalchemy.types import TypeEngine

from tutela.domain.erasure import Column, Kind

_KINDS: tuple[tuple[type[TypeEngine[Any]], Kind], ...] = (
    (Boolean, "boolean"),
    (Integer, "integer"),
    (Float, "float"),
    (Numeric, "decimal"),
    (DateTime, "datetime"),
    (Date, "date"),
    (Time, "time"),
    (Interval, "other"),
    (Uuid, "uuid"),
    (String, "string"),
    (LargeBinary, "binary"),
    (JSON, "json"),
    (ARRAY, "array"),
)


def kind_of(sql_type: TypeEngine[Any]) -> Kind:
    """The erasure kind of a column type (``other`` for types Tutela cannot write to)."""
    for base, kind in _KINDS:
        if isinstance(sql_type, base):
            return kind
    return "other"


def column_of(sql_type: TypeEngine[Any], *, nullable: bool, primary_key: bool) -> Column:
    length = getattr(sql_type, "length", None) if isinstance(sql_type, String) else None
    return Column(kind_of(sql_type), length, nullable and not primary_key, primary_key)


@dataclass(frozen=True)
class Schema:
    """Reflected tables by collection name, their columns, primary keys; missing tables."""

    tables: dict[str, Table]
    columns: dict[str, dict[str, Column]]
    primary_keys: dict[str, tuple[str, ...]]
    missing: tuple[str, ...]


def reflect(connection: Connection, names: Iterable[str], schema: str | None = None) -> Schema:
    """Reflect only the named tables; a table that does not exist is listed in ``missing``."""
    wanted = list(dict.fromkeys(names))
    existing = set(inspect(connection).get_table_names(schema=schema))
    found = [name for name in wanted if name in existing]
    metadata = MetaData(schema=schema)
    metadata.reflect(connection, only=found, resolve_fks=False)
    tables = {name: metadata.tables[f"{schema}.{name}" if schema else name] for name in found}
    return Schema(
        tables=tables,
        columns={
            name: {
                c.name: column_of(c.type, nullable=bool(c.nullable), primary_key=c.primary_key)
                for c in table.columns
            }
            for name, table in tables.items()
        },
        primary_keys={
            name: tuple(c.name for c in table.primary_key) for name, table in tables.items()
        },
        missing=tuple(name for name in wanted if name not in existing),
    )
