"""The SQL connector: access, erasure and rectification in a database SQLAlchemy reaches.

Works by URL on SQLite and PostgreSQL (MySQL/MariaDB too, with their driver installed). Only
the dataset's collections are reflected, once per connector; every value goes to the
database as a bound parameter. Erasure runs in one transaction: it reads the subject's rows
(locked where the database can), decides children first what happens to each row, deletes
and updates by key, and rolls everything back if any statement does not touch exactly the
rows it should.

The pieces: ``sql_driver`` (statements compiled once, run on the driver's cursor),
``sql_reading`` (reads step by step in batches), ``sql_reaching`` (a request's rows in one
statement on SQLite), ``sql_erasing`` (rows shared with other subjects, the writes level by
level, the summary) and ``sql_writing`` (DELETE and UPDATE by key).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from tutela.adapters.connectors.sql_driver import BATCH_SIZE, Driver
from tutela.adapters.connectors.sql_erasing import (
    Counts,
    SharedLinks,
    apply,
    key_of,
    outside_pins,
    rows_by_id,
    summary,
)
from tutela.adapters.connectors.sql_held import held_connections
from tutela.adapters.connectors.sql_reaching import Reaching
from tutela.adapters.connectors.sql_reading import Reader
from tutela.adapters.connectors.sql_schema import Schema, reflect
from tutela.adapters.connectors.sql_writing import Writer
from tutela.adapters.database import READ_ONLY, make_engine
from tutela.datasets.graph import build_graph, erase_after
from tutela.datasets.models import Dataset
from tutela.datasets.plans import (
    LiveColumns,
    column_problems,
    declared_specs,
    make_rules,
    plan_dataset,
)
from tutela.datasets.ports import AbstractConnector
from tutela.datasets.results import (
    AccessResult,
    ErasureResult,
    Identities,
    RectificationResult,
    identity_values,
)
from tutela.declarations.models import Erasure
from tutela.domain.erasure import CollectionPlan, PlanProblem, value_fits
from tutela.domain.erasure_rows import (
    Outcomes,
    WholeCollections,
    decide,
    decide_collections,
    erasure_fields,
    erasure_graph,
    outcomes,
    whole_collections,
)
from tutela.domain.errors import ConfigurationError, InvalidInput
from tutela.domain.traversal import Graph, Link, Reached, row_links, traverse

if TYPE_CHECKING:
    from tutela.adapters.connectors.sql_retention import SqlRetention


@dataclass(frozen=True)
class _Prepared:
    """Everything a request needs that depends only on the dataset and the live tables."""

    schema: Schema
    graph: Graph
    #: the part of the graph an erasure reads (see ``erasure_graph``)
    erasing: Graph
    plans: dict[str, CollectionPlan]
    problems: list[PlanProblem]
    reader: Reader
    locking_reader: Reader
    #: an erasure's reader: the columns it needs only (see ``erasure_fields``), locking
    erasing_reader: Reader
    #: reads a request's rows in one statement where the database allows (SQLite)
    reaching: Reaching | None
    erasing_reaching: Reaching | None
    writer: Writer
    #: per collection, the fields an access returns and their categories
    found: dict[str, tuple[tuple[str, tuple[str, ...]], ...]]
    erase_after: list[tuple[str, str]]
    #: every collection has a primary key
    keyed: bool
    #: whole collections children first, when their links allow (see ``whole_collections``)
    whole: WholeCollections | None
    #: the links along which reached rows may be shared with other subjects' rows
    shared: SharedLinks


class SqlConnector(AbstractConnector):
    """One dataset in one database."""

    def __init__(
        self,
        engine: Engine,
        dataset: Dataset,
        *,
        erasure: Erasure | None = None,
        correctable: Iterable[str] = (),
        parents: Mapping[str, str] | None = None,
        hash_key: bytes | None = None,
        schema: str | None = None,
        batch_size: int = BATCH_SIZE,
        retention: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.dataset = dataset
        #: collection -> the field dating its rows, for retention sweeps
        self.retention = dict(retention or {})
        self.erasure = erasure
        self.correctable = frozenset(correctable)
        self.rules = make_rules(erasure, parents=parents, hash_key=hash_key)
        self.schema_name = schema
        self.batch_size = batch_size
        self._fields = {c.name: tuple(f.name for f in c.fields) for c in dataset.active_collections}
        self._held = held_connections(engine)

    @classmethod
    def from_url(
        cls,
        url: str,
        dataset: Dataset,
        *,
        erasure: Erasure | None = None,
        correctable: Iterable[str] = (),
        parents: Mapping[str, str] | None = None,
        hash_key: bytes | None = None,
        schema: str | None = None,
        retention: Mapping[str, str] | None = None,
    ) -> SqlConnector:
        """A connector with an engine of its own, which :meth:`close` disposes of."""
        return cls(
            make_engine(url, pre_ping=False),
            dataset,
            erasure=erasure,
            correctable=correctable,
            parents=parents,
            hash_key=hash_key,
            schema=schema,
            retention=retention,
        )

    def close(self) -> None:
        self.engine.dispose()

    # -- the live schema ------------------------------------------------------------------

    @cached_property
    def live(self) -> Schema:
        """The dataset's tables as the database has them, reflected on first use."""
        with self._reading() as connection:
            return reflect(connection, self._fields, self.schema_name)

    def refresh(self) -> None:
        """Reflect the tables again on next use (after a migration of the database)."""
        self.__dict__.pop("live", None)
        self.__dict__.pop("_prepared", None)

    def check_live(self, columns: LiveColumns | None = None) -> list[PlanProblem]:
        if columns is None:
            schema = self.live
            columns = schema.columns
        problems = self._column_problems(columns)
        for plan in self._plans(columns).values():
            problems.extend(plan.problems)
            for field in plan.fields:
                if field.strategy == "hash" and self.rules.hash_key is None:
                    problems.append(
                        PlanProblem(
                            plan.collection,
                            field.name,
                            "hash: no hash key is configured",
                            "configure the key erasure hashes with, or choose another strategy",
                            "live",
                        )
                    )
        return problems

    def _column_problems(self, columns: LiveColumns) -> list[PlanProblem]:
        problems: list[PlanProblem] = []
        for name, specs in declared_specs(self.dataset, self.erasure).items():
            problems.extend(column_problems(name, specs, columns.get(name)))
        return problems

    def _plans(self, columns: LiveColumns) -> dict[str, CollectionPlan]:
        keys = {
            name: frozenset(c for c, column in table.items() if column.primary_key)
            for name, table in columns.items()
        }
        return plan_dataset(self.dataset, self.erasure, self.rules, live=columns, primary_keys=keys)

    @cached_property
    def _prepared(self) -> _Prepared:
        schema = self.live
        problems = self._column_problems(schema.columns)
        if problems:
            raise _refused("the dataset does not match the database", problems)
        keys = {name: frozenset(pk) for name, pk in schema.primary_keys.items()}
        # SQLite has no FOR UPDATE (its transactions lock the whole database), and its
        # columns take any type in a UNION, so a request reads all its rows in one statement
        sqlite = self.engine.dialect.name == "sqlite"
        reader = Reader(schema, self._fields, batch_size=self.batch_size)
        plans = self._plans(schema.columns)
        found = {
            name: tuple(
                (field.name, field.categories)
                for field in plan.fields
                if field.name in reader.selected.get(name, ())
            )
            for name, plan in plans.items()
        }
        graph = build_graph(self.dataset, keys)
        after = erase_after(self.dataset)
        erasing = erasure_graph(graph, plans, after)
        # an erasure reads the key and what its decisions need; a table without a primary
        # key is matched on every declared column, so all are read
        needed = erasure_fields(erasing, plans)
        erasing_fields = {
            name: self._fields[name]
            if not schema.primary_keys.get(name)
            else tuple(f for f in self._fields[name] if f in needed.get(name, ()))
            for name in self._fields
        }
        shared = SharedLinks.of(reader, erasing, plans)
        erasing_reader = Reader(schema, erasing_fields, lock=not sqlite, batch_size=self.batch_size)
        return _Prepared(
            schema=schema,
            graph=graph,
            erasing=erasing,
            plans=plans,
            problems=self.check_live(schema.columns),
            reader=reader,
            reaching=Reaching(reader, self.engine.dialect) if sqlite else None,
            erasing_reader=erasing_reader,
            erasing_reaching=Reaching(erasing_reader, self.engine.dialect, shared.counting)
            if sqlite
            else None,
            locking_reader=reader
            if sqlite
            else Reader(schema, self._fields, lock=True, batch_size=self.batch_size),
            writer=Writer(
                schema.tables, reader.key_columns, schema.primary_keys, batch_size=self.batch_size
            ),
            found=found,
            erase_after=after,
            keyed=all(schema.primary_keys.get(name) for name in schema.tables),
            whole=whole_collections(erasing.collections, erasing.links, after),
            shared=shared,
        )

    # -- requests -------------------------------------------------------------------------

    def access(self, identities: Identities) -> AccessResult:
        ready = self._prepared

        def read(_: _Progress) -> Reached:
            with self._read_driver() as driver:
                return self._traverse(driver, ready.graph, ready.reader, ready.reaching, identities)

        reached = _retrying(read, always=True)
        return AccessResult(
            self.dataset.fides_key, reached.rows, ready.found, reached.plan.unreachable
        )

    def erase(self, identities: Identities) -> ErasureResult:
        ready = self._prepared
        if ready.problems:
            raise _refused("the erasure plan does not fit the database", ready.problems)
        graph, plans = ready.erasing, ready.plans

        def run(progress: _Progress) -> tuple[Outcomes, Counts]:
            with self._write_driver() as driver:
                reader, reaching = ready.erasing_reader, ready.erasing_reaching
                reached = self._traverse(driver, graph, reader, reaching, identities, progress)
                outside = outside_pins(driver, ready.reader, ready.shared, reached)
                if ready.whole is not None:  # whole collections in turn
                    levels = decide_collections(
                        plans, reached.rows, reached.keys, ready.whole, self.rules, outside=outside
                    )
                else:
                    rows = rows_by_id(reached)
                    steps = decide(
                        plans,
                        rows,
                        row_links(graph.links, reached),
                        self.rules,
                        outside=outside,
                        erase_after=ready.erase_after,
                    )
                    levels = outcomes(steps, plans, rows)
                return levels, apply(driver, ready.writer, levels)

        levels, counts = _retrying(run)
        return ErasureResult(self.dataset.fides_key, summary(levels, counts))

    def rectify(self, identities: Identities, changes: Mapping[str, object]) -> RectificationResult:
        ready = self._prepared
        targets: dict[str, dict[str, object]] = {}
        for name, value in changes.items():
            collection, _, field = name.partition(".")
            _check_correction(name, value, self.correctable, ready.plans.get(collection), field)
            targets.setdefault(collection, {})[field] = value

        def run(progress: _Progress) -> dict[str, int]:
            updated: dict[str, int] = {}
            with self._write_driver() as driver:
                reader = ready.locking_reader
                reached = self._traverse(
                    driver, ready.graph, reader, ready.reaching, identities, progress
                )
                for collection, values in targets.items():
                    rows = [(key_of(key), values) for key in reached.keys.get(collection, [])]
                    count = ready.writer.update(driver, collection, rows) if rows else 0
                    for field in values:
                        updated[f"{collection}.{field}"] = count
            return updated

        return RectificationResult(self.dataset.fides_key, _retrying(run))

    # -- retention ------------------------------------------------------------------------

    def retention_store(self) -> SqlRetention | None:
        """The retention side of this dataset, when the declarations name collections."""
        if not self.retention:
            return None
        from tutela.adapters.connectors import sql_retention

        return sql_retention.SqlRetention(self, self.retention, batch=sql_retention.BATCH)

    def graph_links(self) -> tuple[Link, ...]:
        return self._prepared.graph.links

    def plan(self, collection: str) -> CollectionPlan:
        return self._prepared.plans[collection]

    @property
    def writer(self) -> Writer:
        return self._prepared.writer

    def reading(self) -> Connection:
        """A connection for reads (no write lock on SQLite)."""
        return self._reading()

    # -- helpers --------------------------------------------------------------------------

    def _reading(self) -> Connection:
        connection = self.engine.connect()
        connection.execution_options(**{READ_ONLY: True})
        return connection

    @contextmanager
    def _read_driver(self) -> Iterator[Driver]:
        """A driver for one read, in one snapshot. Without a SQLAlchemy connection when no
        listener watches the engine's statements: one around it would cost as much as the
        whole read on SQLite."""
        engine = self.engine
        if engine.dispatch.before_cursor_execute:
            with self._reading() as connection, Driver.of(connection) as driver:
                self._snapshot(driver)
                yield driver
            return
        held = self._held
        if held is not None:  # a SQLite file: the thread's own connection
            own = held.take()
            driver = Driver(own, engine.dialect)
            try:
                driver.execute("BEGIN", ())
                yield driver
            finally:
                driver.close()
                held.end(own)
            return
        with self._pooled() as raw, Driver(raw, engine.dialect) as driver:
            self._snapshot(driver)
            yield driver

    @contextmanager
    def _write_driver(self) -> Iterator[Driver]:
        """A driver for one transaction that writes: committed when the block ends, rolled
        back when it raises. Without a SQLAlchemy connection when no listener watches the
        engine's statements and every collection has a primary key (rows without one are
        deleted through SQLAlchemy)."""
        engine = self.engine
        if engine.dispatch.before_cursor_execute or not self._prepared.keyed:
            with engine.begin() as connection, Driver.of(connection) as driver:
                yield driver
            return
        held = self._held
        if held is not None:  # a SQLite file: the thread's own connection
            own = held.take()
            driver = Driver(own, engine.dialect)
            try:
                driver.execute("BEGIN IMMEDIATE", ())
                yield driver
                driver.commit()
            finally:
                driver.close()
                held.end(own)
            return
        with self._pooled() as raw, Driver(raw, engine.dialect) as driver:
            if engine.dialect.name == "sqlite":  # the write lock up front, as Tutela's own
                driver.execute("BEGIN IMMEDIATE", ())
            yield driver
            driver.commit()

    @contextmanager
    def _pooled(self) -> Iterator[PoolProxiedConnection]:
        """A driver connection from the pool (a SQLite file has the thread's own instead,
        see ``sql_held``), returned to it rolled back unless committed."""
        pooled = self.engine.raw_connection()
        try:  # returned to the pool rolled back
            yield pooled
        finally:
            pooled.close()

    def _snapshot(self, driver: Driver) -> None:
        # PostgreSQL's driver opens the transaction with the first statement; SQLite's
        # connections run in autocommit until told otherwise.
        if self.engine.dialect.name == "sqlite":
            driver.execute("BEGIN", ())

    def _traverse(
        self,
        driver: Driver,
        graph: Graph,
        reader: Reader,
        reaching: Reaching | None,
        identities: Identities,
        progress: _Progress | None = None,
    ) -> Reached:
        """The rows ``graph`` reaches from the identities: in one statement (``reaching``,
        on SQLite) where the references allow, else collection by collection."""

        def fetch(
            collection: str, wanted: Mapping[str, frozenset[Hashable]]
        ) -> list[dict[str, object]]:
            rows = reader.fetch(driver, collection, wanted)
            if progress is not None:
                progress.started = True
            return rows

        seeds = identity_values(identities)
        if reaching is not None:
            plan = graph.access_plan(name for name, values in seeds.items() if values)
            reached = reaching.reach(driver, plan, seeds)
            if reached is not None:
                if progress is not None:
                    progress.started = True
                return reached
        return traverse(graph, seeds, fetch, reader.key)


T = TypeVar("T")


@dataclass
class _Progress:
    """Whether a transaction got past its first statement."""

    started: bool = False


def _retrying(work: Callable[[_Progress], T], *, always: bool = False) -> T:
    """``work``, run once more on a fresh connection when the pooled one it got had been
    dropped by the database (the engine does not test connections before use).

    A transaction is retried only when its first statement failed: nothing was done yet.
    A read-only request (``always``) can be retried wherever it failed.
    """
    progress = _Progress()
    try:
        return work(progress)
    except DBAPIError as error:
        if not error.connection_invalidated or (progress.started and not always):
            raise
    return work(_Progress())


def _refused(what: str, problems: list[PlanProblem]) -> ConfigurationError:
    listed = "; ".join(str(p) for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return ConfigurationError(
        f"{what}, nothing was changed: {listed}{more}",
        details={"problems": [str(p) for p in problems]},
    )


def _check_correction(
    name: str,
    value: object,
    correctable: frozenset[str],
    plan: CollectionPlan | None,
    field: str,
) -> None:
    if name not in correctable:
        raise InvalidInput(
            f"{name}: not declared correctable",
            details={"field": name, "fix": "list it under datasets[].correctable"},
        )
    target = plan.field(field) if plan is not None else None
    if target is None:
        raise InvalidInput(f"{name}: no such field in the dataset", details={"field": name})
    if target.role != "value":
        raise InvalidInput(
            f"{name}: a key or reference cannot be corrected", details={"field": name}
        )
    if not value_fits(target.column, value):
        length = f" of at most {target.column.length}" if target.column.length else ""
        raise InvalidInput(
            f"{name}: the new value does not fit the column ({target.column.kind}{length})",
            details={"field": name},
        )
