"""Statements on the driver: compiled once per shape, run on one cursor per unit of work.

A statement is built with SQLAlchemy (quoting, ``FOR UPDATE`` where the database has it,
the dialect's parameter style) and compiled once per shape — the collection, the fields
compared and the length of each IN list — into the driver's SQL text. Executions then go
straight to the driver (a :class:`Driver`: one cursor per request), with SQLAlchemy's own
type processors applied to parameters and results and the engine's statement listeners
called: the rows are what SQLAlchemy would return and its errors are raised (a dropped
connection invalidated as SQLAlchemy does), without its per-statement cost, which is most
of a request's time on SQLite.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Connection, Delete, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

Row = dict[str, object]
Processor = Callable[[Any], Any] | None

#: Values per IN list; well below every driver's limit on parameters.
BATCH_SIZE = 500

#: Compiled shapes kept per reader (collection, fields, IN-list lengths).
SHAPES = 1024


class Driver:
    """One unit of work's way to the database driver.

    Wraps a pooled driver connection and, when there is one, the SQLAlchemy connection it
    belongs to (its engine's ``before_cursor_execute`` listeners see every statement, its
    transaction is the one statements run in). One cursor serves every statement until
    :meth:`close`. Driver errors are raised as SQLAlchemy's (parameters hidden: they are
    personal data); a connection the database dropped is invalidated, so the next unit of
    work gets a new one, and the error says ``connection_invalidated``.
    """

    __slots__ = ("_cursor", "_listened", "_pooled", "connection", "dialect")

    def __init__(
        self,
        pooled: PoolProxiedConnection,
        dialect: Dialect,
        connection: Connection | None = None,
    ) -> None:
        self.connection = connection
        self.dialect = dialect
        self._pooled = pooled
        self._cursor: Any = None
        self._listened = connection is not None and bool(connection.dispatch.before_cursor_execute)

    @classmethod
    def of(cls, connection: Connection) -> Driver:
        """The driver under a SQLAlchemy connection, inside its transaction."""
        return cls(connection.connection, connection.dialect, connection)

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            cursor.close()

    def execute(self, sql: str, args: Sequence[object] | Mapping[str, object]) -> Any:
        """Run one statement; the cursor holding its result."""
        return self._run(sql, args, many=False)

    def executemany(self, sql: str, rows: Sequence[Sequence[object] | Mapping[str, object]]) -> int:
        """Run one statement once per parameter set; the number of rows it touched."""
        return int(self._run(sql, rows, many=True).rowcount)

    def commit(self) -> None:
        """Commit the driver connection's transaction."""
        try:
            self._pooled.commit()
        except self.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(error, "COMMIT", ()) from error

    def _run(self, sql: str, args: Any, *, many: bool) -> Any:
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self._pooled.cursor()
        if self._listened:
            connection = self.connection
            for listener in connection.dispatch.before_cursor_execute:  # type: ignore[union-attr]
                listener(connection, cursor, sql, args, None, many)
        try:
            if many:
                cursor.executemany(sql, args)
            else:
                cursor.execute(sql, args)
        except self.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(error, sql, args) from error
        return cursor

    def _wrapped(self, error: Exception, sql: str, args: Any) -> BaseException:
        dropped = self.dialect.is_disconnect(error, self._pooled, self._cursor)  # type: ignore[arg-type]
        if dropped:
            self._cursor = None
            if self.connection is not None:
                self.connection.invalidate(error)
            else:
                self._pooled.invalidate(error)
        return DBAPIError.instance(
            sql,
            args,
            error,
            self.dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=dropped,
            dialect=self.dialect,
        )


@dataclass(slots=True)
class Shape:
    """One statement compiled to the driver's SQL for given IN-list lengths.

    Its parameters are the lists' values one after the other (``values``): for a named
    parameter style ``names`` gives each value's name; for a positional one ``order`` the
    value each placeholder takes, when it is not simply the given order.
    """

    sql: str
    names: tuple[str, ...] | None
    order: tuple[int, ...] | None
    binds: tuple[Processor, ...] | None  # per value; None: no value needs processing
    columns: tuple[str, ...]
    types: tuple[Any, ...]  # the selected columns' types, as the dialect implements them
    dialect: Dialect
    # result processors, chosen from the driver's column types on the first execution
    results: tuple[Processor, ...] | None = None

    def arguments(self, values: list[object]) -> Sequence[object] | Mapping[str, object]:
        if self.binds is not None:
            values = [v if p is None else p(v) for v, p in zip(values, self.binds, strict=True)]
        if self.names is not None:
            return dict(zip(self.names, values, strict=True))
        if self.order is not None:
            return [values[index] for index in self.order]
        return values

    def execute(self, driver: Driver, values: list[object]) -> Any:
        """Run the statement; the cursor holding its result (records as the driver gives
        them, without the columns' result processors)."""
        plain = self.binds is None and self.names is None and self.order is None
        return driver.execute(self.sql, values if plain else self.arguments(values))

    def run(self, driver: Driver, values: list[object]) -> list[Row]:
        """The selected rows, with the columns' result processors applied."""
        cursor = self.execute(driver, values)
        results = self.results
        if results is None:
            codes = [entry[1] for entry in cursor.description or ()]
            results = self.results = tuple(
                kind.result_processor(self.dialect, code)
                for kind, code in zip(self.types, codes, strict=True)
            )
        fetched = cursor.fetchall()
        columns = self.columns
        if not any(results):
            return [dict(zip(columns, row, strict=True)) for row in fetched]
        return [
            {
                name: value if process is None else process(value)
                for name, value, process in zip(columns, row, results, strict=True)
            }
            for row in fetched
        ]

    def count(self, driver: Driver, values: list[object]) -> int:
        """Run a DELETE or UPDATE; the number of rows it touched."""
        return int(driver.execute(self.sql, self.arguments(values)).rowcount)


class Shapes:
    """Statements compiled per shape, the least recently compiled dropped past ``limit``."""

    def __init__(self, limit: int = SHAPES) -> None:
        self._shapes: OrderedDict[tuple[object, ...], Shape] = OrderedDict()
        self._lock = threading.Lock()  # requests may share the connector
        self._limit = limit

    def cached(self, key: tuple[object, ...]) -> Shape | None:
        """The shape compiled for ``(*kind, *lengths)``, if it was."""
        return self._shapes.get(key)

    def get(
        self,
        dialect: Dialect,
        kind: tuple[object, ...],
        statement: Select[Any] | CompoundSelect[Any] | Callable[[], Built],
        lists: Mapping[str, Sequence[object]],
        *,
        expanding: bool = True,
    ) -> tuple[Shape, list[object]]:
        """The compiled shape and the values of one execution with these IN lists.

        ``statement`` is a SELECT with expanding IN lists, or a function building a
        statement whose lists hold one parameter per value, named ``{list}_{position}``
        (from 1): a DELETE, or a SELECT when not ``expanding``.
        """
        key = (*kind, *map(len, lists.values()))
        shape = self.cached(key)
        if shape is None:
            built = statement if isinstance(statement, Select | CompoundSelect) else statement()
            shape = compile_shape(built, dialect, lists, expanding=expanding)
            with self._lock:
                self._shapes[key] = shape
                if len(self._shapes) > self._limit:
                    self._shapes.popitem(last=False)
        return shape, [value for values in lists.values() for value in values]


Built = Select[Any] | CompoundSelect[Any] | Delete


def compile_shape(
    statement: Built,
    dialect: Dialect,
    lists: Mapping[str, Sequence[object]],
    *,
    expanding: bool = True,
) -> Shape:
    """Compile ``statement`` for IN lists of these lengths (the values are not kept):
    expanding lists of a SELECT rendered for them, or one parameter per value."""
    if expanding and isinstance(statement, Select | CompoundSelect):
        bound = statement.params({name: list(values) for name, values in lists.items()})
        compiled = bound.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    else:  # built for the lengths, with a parameter per value
        compiled = statement.compile(dialect=dialect)
    flat = [
        (f"{name}_{position}", name)
        for name, values in lists.items()
        for position in range(1, len(values) + 1)
    ]
    selected = statement.selected_columns if not isinstance(statement, Delete) else ()
    return _shape(compiled, dialect, flat, selected)


def compile_dml(statement: Update | Delete, dialect: Dialect, names: Sequence[str]) -> Shape:
    """Compile an UPDATE or DELETE whose parameters are ``names``, given in that order."""
    return _shape(statement.compile(dialect=dialect), dialect, [(n, n) for n in names], ())


def _shape(
    compiled: SQLCompiler,
    dialect: Dialect,
    flat: list[tuple[str, str]],
    selected: Iterable[ColumnElement[Any]],
) -> Shape:
    """``flat``: each value's parameter name and the name of the bind it belongs to."""
    processors: list[Processor] = []
    for name, listed in flat:
        parameter = compiled.binds[name] if name in compiled.binds else compiled.binds[listed]
        processors.append(dialect.type_descriptor(parameter.type).bind_processor(dialect))
    binds = tuple(processors) if any(processors) else None
    names = tuple(name for name, _ in flat)
    order: tuple[int, ...] | None = None
    if dialect.paramstyle in ("qmark", "numeric", "format", "numeric_dollar"):
        index = {name: position for position, name in enumerate(names)}
        order = tuple(index[name] for name in compiled.positiontup or ())
        if set(order) != set(range(len(names))):  # a list may be used more than once
            raise ValueError(f"parameters {compiled.positiontup} are not the lists' {names}")
        ordered = order == tuple(range(len(names)))
        names_out, order_out = None, (None if ordered else order)
    else:
        names_out, order_out = names, None
    selected = tuple(selected)
    columns = tuple(str(column.key) for column in selected)
    types = tuple(dialect.type_descriptor(c.type) for c in selected)
    return Shape(compiled.string, names_out, order_out, binds, columns, types, dialect)
