"""Reading a dataset's rows: batched, parameterised IN queries, each statement built once."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Select, bindparam, or_, select

from tutela.adapters.connectors.sql_schema import Schema

#: Values per IN list; well below every driver's limit on parameters.
BATCH_SIZE = 500

Row = dict[str, object]


class Reader:
    """Selects a collection's declared columns and its key columns by field values.

    A row is told apart by its primary key, or by all its selected columns when the table
    has none. With ``lock`` the rows are locked for the transaction (``FOR UPDATE``, where
    the database has it).
    """

    def __init__(
        self,
        schema: Schema,
        fields: Mapping[str, Iterable[str]],
        *,
        lock: bool = False,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.schema = schema
        self.batch_size = batch_size
        self.lock = lock
        self.selected: dict[str, tuple[str, ...]] = {}
        self.key_columns: dict[str, tuple[str, ...]] = {}
        for name, table in schema.tables.items():
            keys = schema.primary_keys.get(name, ())
            declared = [f for f in fields.get(name, ()) if f in table.c]
            self.selected[name] = tuple(dict.fromkeys([*declared, *keys]))
            self.key_columns[name] = keys or self.selected[name]
        self._statements: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}
        self._pointing: dict[tuple[str, str], Select[Any]] = {}

    def key(self, collection: str, row: Mapping[str, object]) -> Hashable:
        return tuple(_hashable(row.get(column)) for column in self.key_columns[collection])

    def fetch(
        self, connection: Connection, collection: str, wanted: Mapping[str, frozenset[Hashable]]
    ) -> list[Row]:
        """Rows where any of the fields equals one of its values."""
        fields = sorted(name for name, values in wanted.items() if values)
        if sum(len(wanted[name]) for name in fields) <= self.batch_size:
            return self._run(connection, collection, fields, {n: wanted[n] for n in fields})
        rows: list[Row] = []
        for name in fields:
            values = list(wanted[name])
            for start in range(0, len(values), self.batch_size):
                chunk = {name: frozenset(values[start : start + self.batch_size])}
                rows.extend(self._run(connection, collection, [name], chunk))
        return rows

    def pointing(
        self,
        connection: Connection,
        collection: str,
        field: str,
        values: frozenset[Hashable],
    ) -> list[tuple[Hashable, object]]:
        """``(row key, value of field)`` of the rows whose ``field`` holds one of ``values``;
        only the key columns and ``field`` are read, never locked."""
        table = self.schema.tables[collection]
        keys = self.key_columns[collection]
        columns = tuple(dict.fromkeys([*keys, field]))
        statement = self._pointing.get((collection, field))
        if statement is None:
            statement = select(*(table.c[name] for name in columns)).where(
                table.c[field].in_(bindparam("_in0", expanding=True))
            )
            self._pointing[(collection, field)] = statement
        out: list[tuple[Hashable, object]] = []
        ordered = list(values)
        for start in range(0, len(ordered), self.batch_size):
            chunk = ordered[start : start + self.batch_size]
            for found in connection.execute(statement, {"_in0": chunk}).mappings():
                row = dict(found)
                out.append((self.key(collection, row), row[field]))
        return out

    def _run(
        self,
        connection: Connection,
        collection: str,
        fields: list[str],
        wanted: Mapping[str, frozenset[Hashable]],
    ) -> list[Row]:
        statement = self._statement(collection, tuple(fields))
        params = {f"_in{i}": list(wanted[name]) for i, name in enumerate(fields)}
        return [dict(row) for row in connection.execute(statement, params).mappings()]

    def _statement(self, collection: str, fields: tuple[str, ...]) -> Select[Any]:
        cached = self._statements.get((collection, fields))
        if cached is not None:
            return cached
        table = self.schema.tables[collection]
        columns = [table.c[name] for name in self.selected[collection]]
        conditions = [
            table.c[name].in_(bindparam(f"_in{i}", expanding=True)) for i, name in enumerate(fields)
        ]
        statement = select(*columns).where(or_(*conditions))
        if self.lock:
            statement = statement.with_for_update()
        self._statements[(collection, fields)] = statement
        return statement


def _hashable(value: object) -> Hashable:
    if isinstance(value, Hashable):
        return value
    return repr(value)
