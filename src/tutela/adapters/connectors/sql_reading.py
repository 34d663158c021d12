"""Reading a dataset's rows: batched, parameterised IN queries, each statement built once
and run on the driver (``sql_driver``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    CompoundSelect,
    Select,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    union_all,
)

from tutela.adapters.connectors.sql_driver import BATCH_SIZE, Driver, Row, Shape, Shapes
from tutela.adapters.connectors.sql_schema import Schema

#: Up to this many (field, value) pairs, SQLite counts each pair with a SELECT of its own
#: (measured: twice as fast for a few values, slower from about 25 values on 4 fields).
PER_VALUE = 100


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
        self._keys: dict[str, Callable[[Mapping[str, object]], Hashable]] = {}
        for name, table in schema.tables.items():
            keys = schema.primary_keys.get(name, ())
            declared = [f for f in fields.get(name, ()) if f in table.c]
            self.selected[name] = tuple(dict.fromkeys([*declared, *keys]))
            self.key_columns[name] = keys or self.selected[name]
            self._keys[name] = _keyer(self.key_columns[name])
        self._statements: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}
        self._holding: dict[tuple[tuple[str, str], ...], Select[Any] | CompoundSelect[Any]] = {}
        self._shapes = Shapes()

    def key(self, collection: str, row: Mapping[str, object]) -> Hashable:
        """The row's key: a tuple of its key columns' values (``repr`` of an unhashable)."""
        return self._keys[collection](row)

    def fetch(
        self, driver: Driver, collection: str, wanted: Mapping[str, frozenset[Hashable]]
    ) -> list[Row]:
        """Rows where any of the fields equals one of its values."""
        if len(wanted) == 1:  # the common case, with the fewest steps
            ((name, values),) = wanted.items()
            if 0 < len(values) <= self.batch_size:
                shape = self._shapes.cached(("f", collection, name, len(values)))
                if shape is not None:
                    return shape.run(driver, list(values))
        fields = sorted(name for name, values in wanted.items() if values)
        if sum(len(wanted[name]) for name in fields) <= self.batch_size:
            return self._run(driver, collection, fields, [wanted[name] for name in fields])
        rows: list[Row] = []
        for name in fields:
            listed = list(wanted[name])
            for start in range(0, len(listed), self.batch_size):
                chunk = listed[start : start + self.batch_size]
                rows.extend(self._run(driver, collection, [name], [chunk]))
        return rows

    def holding(
        self,
        driver: Driver,
        fields: Sequence[tuple[str, str]],
        values: Iterable[Hashable],
    ) -> dict[tuple[int, Hashable], int]:
        """How many rows of each ``(collection, field)`` hold each of ``values``, keyed by
        the field's position in ``fields`` and the value (values no row holds are left
        out); never locked.

        One statement per batch of values, the fields' counts joined with ``UNION ALL``
        (the fields must have types the database can put in one column). On SQLite, a few
        values are counted each apart (``= ?``): for an ``IN`` list and its ``GROUP BY`` it
        builds temporary indexes, which cost more than a few look-ups.
        """
        ordered = list(values)
        out: dict[tuple[int, Hashable], int] = {}
        if not ordered or not fields:
            return out
        if driver.dialect.name == "sqlite" and len(ordered) * len(fields) <= PER_VALUE:
            shape, flat = self._counting_each(driver, fields, ordered)
            for position, at, rows in shape.execute(driver, flat).fetchall():
                if rows:
                    out[(position, ordered[at])] = rows
            return out
        step = max(1, self.batch_size // len(fields))
        batches = []
        for start in range(0, len(ordered), step):
            chunk = ordered[start : start + step]
            lists = {f"_in{index}": chunk for index in range(len(fields))}
            statement = self._counting(fields)
            kind = ("h", *fields)
            batches.append(self._shapes.get(driver.dialect, kind, statement, lists))
        for shape, flat in batches:
            for row in shape.run(driver, flat):
                position, value, rows = row["position"], row["value"], row["rows"]
                if rows:
                    out[(cast(int, position), _hashable(value))] = cast(int, rows)
        return out

    def _counting(self, fields: Sequence[tuple[str, str]]) -> Select[Any] | CompoundSelect[Any]:
        """Rows per value of each field, the values in one expanding list per field."""
        statement = self._holding.get(tuple(fields))
        if statement is None:
            parts = []
            for index, (collection, name) in enumerate(fields):
                column = self.schema.tables[collection].c[name]
                parts.append(
                    select(
                        literal_column(str(index)).label("position"),
                        column.label("value"),
                        func.count().label("rows"),
                    )
                    .where(column.in_(bindparam(f"_in{index}", expanding=True)))
                    .group_by(column)
                )
            statement = union_all(*parts) if len(parts) > 1 else parts[0]
            self._holding[tuple(fields)] = statement
        return statement

    def _counting_each(
        self, driver: Driver, fields: Sequence[tuple[str, str]], values: list[Hashable]
    ) -> tuple[Shape, list[object]]:
        """Rows holding each value in each field, one SELECT per field and value (a value
        no row holds counts 0), each record ``(field's position, value's position, rows)``.
        Its values: the values once per field."""

        def build() -> Select[Any] | CompoundSelect[Any]:
            parts: list[Any] = []
            for index, (collection, name) in enumerate(fields):
                column = self.schema.tables[collection].c[name]
                for n in range(1, len(values) + 1):
                    parts.append(
                        select(
                            literal_column(str(index)).label("position"),
                            literal_column(str(n - 1)).label("value"),
                            func.count().label("rows"),
                        ).where(column == bindparam(f"_in{index}_{n}", type_=column.type))
                    )
            return union_all(*parts) if len(parts) > 1 else parts[0]

        lists = {f"_in{index}": values for index in range(len(fields))}
        kind = ("he", *fields)
        return self._shapes.get(driver.dialect, kind, build, lists, expanding=False)

    def _run(
        self,
        driver: Driver,
        collection: str,
        fields: list[str],
        lists: Sequence[Iterable[Hashable]],
    ) -> list[Row]:
        statement = self._statement(collection, tuple(fields))
        named = {f"_in{index}": list(values) for index, values in enumerate(lists)}
        kind = ("f", collection, *fields)
        shape, flat = self._shapes.get(driver.dialect, kind, statement, named)
        return shape.run(driver, flat)

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


def _keyer(columns: tuple[str, ...]) -> Callable[[Mapping[str, object]], Hashable]:
    """A function giving a row's key from these columns."""
    getter = itemgetter(*columns)
    single = len(columns) == 1

    def key(row: Mapping[str, object]) -> Hashable:
        found = (getter(row),) if single else getter(row)
        try:
            hash(found)
        except TypeError:
            return tuple(_hashable(value) for value in found)
        return found

    return key


def _hashable(value: object) -> Hashable:
    if isinstance(value, Hashable):
        try:
            hash(value)
        except TypeError:
            return repr(value)
        return value
    return repr(value)
