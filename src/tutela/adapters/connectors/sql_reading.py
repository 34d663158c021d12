"""Reading a dataset's rows: batched, parameterised IN queries, each statement built once.

A statement is built with SQLAlchemy (quoting, ``FOR UPDATE`` where the database has it,
the dialect's parameter style) and compiled once per shape — the collection, the fields
compared and the length of each IN list — into the driver's SQL text. Executions then go
straight to the driver's cursor of the same connection and transaction, with SQLAlchemy's
own type processors applied to parameters and results: the rows are what SQLAlchemy would
return, without its per-statement cost (which is most of a request's time on SQLite).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Delete, Select, bindparam, or_, select
from sqlalchemy.engine import Dialect

from tutela.adapters.connectors.sql_schema import Schema

#: Values per IN list; well below every driver's limit on parameters.
BATCH_SIZE = 500

#: Compiled shapes kept per reader (collection, fields, IN-list lengths).
SHAPES = 1024

Row = dict[str, object]
Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class Shape:
    """One statement compiled to the driver's SQL for given IN-list lengths."""

    sql: str
    names: tuple[str, ...] | None  # parameter order for positional styles; None: named
    binds: dict[str, Processor]  # parameter name -> bind processor
    columns: tuple[str, ...]
    types: tuple[Any, ...]  # the selected columns' types, as the dialect implements them
    dialect: Dialect
    # result processors, chosen from the driver's column types on the first execution
    results: tuple[Processor, ...] | None = None

    def _execute(self, connection: Connection, params: Mapping[str, object]) -> Any:
        values = {
            name: (value if (bind := self.binds.get(name)) is None else bind(value))
            for name, value in params.items()
        }
        args: Sequence[object] | Mapping[str, object] = (
            values if self.names is None else [values[name] for name in self.names]
        )
        cursor = connection.connection.cursor()
        try:
            # listeners of the engine (logging, tracing, counting) still see the statement
            for listener in connection.dispatch.before_cursor_execute:
                listener(connection, cursor, self.sql, args, None, False)
            cursor.execute(self.sql, args)
        except BaseException:
            cursor.close()
            raise
        return cursor

    def run(self, connection: Connection, params: Mapping[str, object]) -> list[Row]:
        """The selected rows, with the columns' result processors applied."""
        cursor = self._execute(connection, params)
        try:
            if self.results is None:
                codes = [entry[1] for entry in cursor.description or ()]
                self.results = tuple(
                    kind.result_processor(self.dialect, code)
                    for kind, code in zip(self.types, codes, strict=True)
                )
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        columns, results = self.columns, self.results
        if not any(results):
            return [dict(zip(columns, row, strict=True)) for row in fetched]
        return [
            {
                name: value if process is None else process(value)
                for name, value, process in zip(columns, row, results, strict=True)
            }
            for row in fetched
        ]

    def count(self, connection: Connection, params: Mapping[str, object]) -> int:
        """Run a DELETE or UPDATE; the number of rows it touched."""
        cursor = self._execute(connection, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


class Shapes:
    """Statements compiled per shape, the least recently compiled dropped past ``limit``."""

    def __init__(self, limit: int = SHAPES) -> None:
        self._shapes: OrderedDict[tuple[object, ...], Shape] = OrderedDict()
        self._lock = threading.Lock()  # requests may share the connector
        self._limit = limit

    def get(
        self,
        connection: Connection,
        kind: tuple[object, ...],
        statement: Select[Any] | Callable[[], Delete],
        lists: Mapping[str, Sequence[object]],
    ) -> tuple[Shape, dict[str, object]]:
        """The compiled shape and the parameters of one execution with these IN lists.

        ``statement`` is a SELECT with expanding IN lists, or a function building a DELETE
        whose IN lists hold one parameter per value, named ``{list}_{position}`` (from 1).
        """
        key = (*kind, *(len(values) for values in lists.values()))
        shape = self._shapes.get(key)
        if shape is None:
            built = statement if isinstance(statement, Select) else statement()
            shape = compile_shape(built, connection.dialect, lists)
            with self._lock:
                self._shapes[key] = shape
                if len(self._shapes) > self._limit:
                    self._shapes.popitem(last=False)
        params = {
            f"{name}_{position}": value
            for name, values in lists.items()
            for position, value in enumerate(values, start=1)
        }
        return shape, params


def compile_shape(
    statement: Select[Any] | Delete, dialect: Dialect, lists: Mapping[str, Sequence[object]]
) -> Shape:
    """Compile ``statement`` for IN lists of these lengths (the values are not kept)."""
    if isinstance(statement, Select):  # expanding IN lists, rendered for these lengths
        bound = statement.params({name: list(values) for name, values in lists.items()})
        compiled = bound.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    else:  # a DML statement is built for the lengths, with a parameter per value
        compiled = statement.compile(dialect=dialect)
    positional = dialect.paramstyle in ("qmark", "numeric", "format", "numeric_dollar")
    names = tuple(compiled.positiontup or ()) if positional else None
    binds: dict[str, Processor] = {}
    for name, parameter in compiled.binds.items():
        process = dialect.type_descriptor(parameter.type).bind_processor(dialect)
        for position in range(1, len(lists.get(name, ())) + 1):
            binds[f"{name}_{position}"] = process
    selected = statement.selected_columns if isinstance(statement, Select) else ()
    columns = tuple(str(column.key) for column in selected)
    types = tuple(dialect.type_descriptor(c.type) for c in selected)
    return Shape(compiled.string, names, binds, columns, types, dialect)


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
        self._shapes = Shapes()

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
            for row in self._execute(
                connection, ("p", collection, field), statement, {"_in0": chunk}
            ):
                out.append((self.key(collection, row), row[field]))
        return out

    def _execute(
        self,
        connection: Connection,
        kind: tuple[object, ...],
        statement: Select[Any],
        lists: Mapping[str, Sequence[object]],
    ) -> list[Row]:
        shape, params = self._shapes.get(connection, kind, statement, lists)
        return shape.run(connection, params)

    def _run(
        self,
        connection: Connection,
        collection: str,
        fields: list[str],
        wanted: Mapping[str, frozenset[Hashable]],
    ) -> list[Row]:
        statement = self._statement(collection, tuple(fields))
        lists = {f"_in{i}": list(wanted[name]) for i, name in enumerate(fields)}
        return self._execute(connection, ("f", collection, *fields), statement, lists)

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
