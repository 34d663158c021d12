"""Writing an erasure or a correction: DELETE and UPDATE by key, statements built once.

Every statement must touch exactly the rows it names; if one does not (a row changed or
vanished meanwhile), :class:`~tutela.domain.errors.Conflict` is raised and the caller's
transaction rolls back, so an erasure is never left half done.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Delete,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    true,
    tuple_,
    update,
)

from tutela.adapters.connectors.sql_reading import BATCH_SIZE, Shapes
from tutela.domain.errors import Conflict

Key = tuple[Hashable, ...]


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
        self._deletes: dict[str, Delete] = {}
        self._updates: dict[tuple[str, tuple[str, ...]], Update] = {}
        self._shapes = Shapes()

    def delete(self, connection: Connection, collection: str, keys: Sequence[Key]) -> int:
        """Delete the rows with these keys; returns how many were deleted."""
        if not self.primary_keys.get(collection):
            return self._delete_each(connection, collection, keys)
        statement = self._delete_statement(collection)
        single = len(self.key_columns[collection]) == 1
        deleted = 0
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            if single:  # straight to the driver, compiled once per batch length
                lists = {"_keys": [key[0] for key in chunk]}
                build = partial(self._delete_of_length, collection, len(chunk))
                shape, params = self._shapes.get(connection, ("d", collection), build, lists)
                count = shape.count(connection, params)
            else:
                count = connection.execute(statement, {"_keys": list(chunk)}).rowcount
            _expect(collection, "deleted", count, len(chunk))
            deleted += count
        return deleted

    def update(
        self,
        connection: Connection,
        collection: str,
        rows: Sequence[tuple[Key, Mapping[str, object]]],
    ) -> int:
        """Set new values by key (rows with the same changed columns share a statement)."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, values in rows:
            columns = tuple(sorted(values))
            params = {f"_k{i}": value for i, value in enumerate(key)}
            params.update({f"_v{i}": values[name] for i, name in enumerate(columns)})
            groups.setdefault(columns, []).append(params)
        updated = 0
        for columns, params_list in groups.items():
            statement = self._update_statement(collection, columns)
            count = connection.execute(statement, params_list).rowcount
            if self.primary_keys.get(collection):
                _expect(collection, "updated", count, len(params_list))
            updated += len(params_list)
        return updated

    def _delete_statement(self, collection: str) -> Delete:
        statement = self._deletes.get(collection)
        if statement is None:
            table = self.tables[collection]
            columns = [table.c[name] for name in self.key_columns[collection]]
            target = columns[0] if len(columns) == 1 else tuple_(*columns)
            statement = delete(table).where(target.in_(bindparam("_keys", expanding=True)))
            self._deletes[collection] = statement
        return statement

    def _delete_of_length(self, collection: str, length: int) -> Delete:
        """DELETE of ``length`` rows by a single key column, one parameter per key."""
        table = self.tables[collection]
        (column,) = (table.c[name] for name in self.key_columns[collection])
        keys = [bindparam(f"_keys_{n}", type_=column.type) for n in range(1, length + 1)]
        return delete(table).where(column.in_(keys))

    def _update_statement(self, collection: str, columns: tuple[str, ...]) -> Update:
        statement = self._updates.get((collection, columns))
        if statement is None:
            table = self.tables[collection]
            statement = (
                update(table)
                .where(self._key_match(collection))
                .values({table.c[name]: bindparam(f"_v{i}") for i, name in enumerate(columns)})
            )
            self._updates[(collection, columns)] = statement
        return statement

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


def _expect(collection: str, what: str, count: int, expected: int) -> None:
    if count != expected:
        raise Conflict(
            f"{collection}: {count} rows {what} instead of {expected}; the data changed "
            "during the request, nothing was changed, run it again",
            details={"collection": collection},
        )
