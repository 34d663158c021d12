"""Writing an erasure or a correction: DELETE and UPDATE by key, statements built once.

Every statement must touch exactly the rows it names; if one does not (a row changed or
vanished meanwhile), :class:`~tutela.domain.errors.Conflict` is raised and the caller's
transaction rolls back, so an erasure is never left half done.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from functools import partial

from sqlalchemy import (
    ColumnElement,
    Connection,
    Delete,
    Table,
    and_,
    bindparam,
    delete,
    true,
    tuple_,
    update,
)
from sqlalchemy.engine import Dialect

from tutela.adapters.connectors.sql_driver import BATCH_SIZE, Driver, Shape, Shapes, compile_dml
from tutela.domain.errors import Conflict

Key = tuple[Hashable, ...]

#: Up to this many rows, SQLite deletes them one by one (measured: faster below about 8,
#: slower above, where an IN list's temporary index pays for itself).
ONE_BY_ONE = 8


class Writer:
    def __init__(
        self,
        tables: Mapping[str, Table],
        key_columns: Mapping[str, tuple[str, ...]],
        primary_keys: Mapping[str, tuple[str, ...]],
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.tables = tables
        self.key_columns = key_columns
        self.primary_keys = primary_keys
        self.batch_size = batch_size
        self._updates: dict[tuple[str, tuple[str, ...]], Shape] = {}
        self._deletes: dict[str, Shape] = {}
        self._shapes = Shapes()

    def delete(self, driver: Driver, collection: str, keys: Sequence[Key]) -> int:
        """Delete the rows with these keys; returns how many were deleted."""
        if not self.primary_keys.get(collection):
            return self._delete_each(_connection(driver), collection, keys)
        if len(keys) <= ONE_BY_ONE and driver.dialect.name == "sqlite":
            # one prepared statement run per key: for an IN list SQLite builds a temporary
            # index, which costs more than a few look-ups (and there are no round trips)
            one = self._delete_one(driver.dialect, collection)
            plain = one.binds is None and one.order is None and one.names is None
            rows = keys if plain else [one.arguments(list(key)) for key in keys]
            count = driver.executemany(one.sql, rows)
            _expect(collection, "deleted", count, len(keys))
            return count
        deleted = 0
        width = len(self.key_columns[collection])
        step = max(1, self.batch_size // width)  # parameters per statement stay in bounds
        for start in range(0, len(keys), step):
            chunk = keys[start : start + step]
            # straight to the driver, compiled once per batch length; values column by column
            shape = self._shapes.cached(("d", collection, *(len(chunk),) * width))
            if shape is not None:
                values = [key[0] for key in chunk] if width == 1 else _by_column(chunk, width)
            else:
                lists = {f"_k{i}": [key[i] for key in chunk] for i in range(width)}
                build = partial(self._delete_of_length, collection, len(chunk))
                shape, values = self._shapes.get(driver.dialect, ("d", collection), build, lists)
            count = shape.count(driver, values)
            _expect(collection, "deleted", count, len(chunk))
            deleted += count
        return deleted

    def update(
        self,
        driver: Driver,
        collection: str,
        rows: Sequence[tuple[Key, Mapping[str, object]]],
    ) -> int:
        """Set new values by key (rows with the same changed columns share a statement)."""
        groups: dict[tuple[str, ...], list[list[object]]] = {}
        for key, values in rows:
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append([*(values[c] for c in columns), *key])
        updated = 0
        for columns, values_list in groups.items():
            shape = self._update_shape(driver.dialect, collection, columns)
            count = driver.executemany(shape.sql, [shape.arguments(v) for v in values_list])
            if self.primary_keys.get(collection):
                _expect(collection, "updated", count, len(values_list))
            updated += len(values_list)
        return updated

    def _delete_one(self, dialect: Dialect, collection: str) -> Shape:
        """DELETE of one row by key, compiled once; its values: the key's."""
        shape = self._deletes.get(collection)
        if shape is None:
            statement = delete(self.tables[collection]).where(self._key_match(collection))
            names = [f"_k{i}" for i in range(len(self.key_columns[collection]))]
            shape = self._deletes[collection] = compile_dml(statement, dialect, names)
        return shape

    def _delete_of_length(self, collection: str, length: int) -> Delete:
        """DELETE of ``length`` rows by key, one parameter per key column and row, named
        ``_k{column}_{row}`` (rows from 1)."""
        table = self.tables[collection]
        columns = [table.c[name] for name in self.key_columns[collection]]
        rows = range(1, length + 1)
        if len(columns) == 1:
            (column,) = columns
            return delete(table).where(
                column.in_([bindparam(f"_k0_{n}", type_=column.type) for n in rows])
            )
        keys = [
            tuple_(*(bindparam(f"_k{i}_{n}", type_=c.type) for i, c in enumerate(columns)))
            for n in rows
        ]
        return delete(table).where(tuple_(*columns).in_(keys))

    def _update_shape(self, dialect: Dialect, collection: str, columns: tuple[str, ...]) -> Shape:
        """UPDATE of ``columns`` by key, compiled once; its values: the new ones in the
        order of ``columns``, then the key's."""
        shape = self._updates.get((collection, columns))
        if shape is None:
            table = self.tables[collection]
            statement = (
                update(table)
                .where(self._key_match(collection))
                .values({table.c[name]: bindparam(f"_v{i}") for i, name in enumerate(columns)})
            )
            names = [
                *(f"_v{i}" for i in range(len(columns))),
                *(f"_k{i}" for i in range(len(self.key_columns[collection]))),
            ]
            shape = self._updates[(collection, columns)] = compile_dml(statement, dialect, names)
        return shape

    def _key_match(self, collection: str) -> ColumnElement[bool]:
        table = self.tables[collection]
        names = self.key_columns[collection]
        if self.primary_keys.get(collection):
            match = [table.c[name] == bindparam(f"_k{i}") for i, name in enumerate(names)]
        else:  # no primary key: every selected column, NULLs included
            match = [
                table.c[name].is_not_distinct_from(bindparam(f"_k{i}"))
                for i, name in enumerate(names)
            ]
        return and_(true(), *match)

    def _delete_each(self, connection: Connection, collection: str, keys: Sequence[Key]) -> int:
        # No primary key: a row is matched on every selected column, NULLs included.
        table = self.tables[collection]
        names = self.key_columns[collection]
        deleted = 0
        for key in keys:
            conditions = [
                table.c[name].is_(None) if value is None else table.c[name] == value
                for name, value in zip(names, key, strict=True)
            ]
            count = connection.execute(delete(table).where(and_(true(), *conditions))).rowcount
            if count < 1:
                _expect(collection, "deleted", count, 1)
            deleted += count
        return deleted


def _by_column(keys: Sequence[Key], width: int) -> list[object]:
    """The keys' first columns, then their second columns, and so on."""
    return [key[i] for i in range(width) for key in keys]


def _connection(driver: Driver) -> Connection:
    if driver.connection is None:
        raise TypeError("writing needs the SQLAlchemy connection of a transaction")
    return driver.connection


def _expect(collection: str, what: str, count: int, expected: int) -> None:
    if count != expected:
        raise Conflict(
            f"{collection}: {count} rows {what} instead of {expected}; the data changed "
            "during the request, nothing was changed, run it again",
            details={"collection": collection},
        )
