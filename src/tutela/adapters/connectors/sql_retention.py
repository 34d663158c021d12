"""Retention sweeps in a connected database: find the expired rows, delete or anonymize them.

Statements are built once per collection from the reflected tables. Two ways through a
collection (see ``tutela.datasets.retention``):

* **set-based**: when every row dated up to the cutoff gets the same verdict, is to be
  deleted, and no other collection of the dataset points at it, each batch is one
  ``DELETE … WHERE key IN (SELECT key … WHERE dated <= :cutoff LIMIT :batch)``;
* **row by row**: otherwise the due rows are read in batches (keyset order: date, then key),
  with their subject's identities (joined along the references to the collection holding
  them) and whether other rows point at them; the service judges each batch; the batch's
  rows are deleted by key, or anonymized by the dataset's erasure strategies (a row other
  rows point at, or holding exempt or read-only data, is anonymized rather than deleted).

Each batch is one transaction; the service's evidence is written before it commits, so a
sweep stopped half-way has finished, and recorded, the batches it reached.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Delete,
    Select,
    String,
    Table,
    bindparam,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
)
from sqlalchemy.exc import SQLAlchemyError

from tutela.adapters.connectors.sql_driver import Driver
from tutela.adapters.connectors.sql_schema import kind_of
from tutela.datasets.graph import erase_after
from tutela.datasets.retention import (
    AbstractRetentionStore,
    Due,
    Evidence,
    Progress,
    RowFacts,
    SweptCollection,
    Tally,
    Verdict,
    identity_fields,
    subject_path,
)
from tutela.declarations.models import Declarations
from tutela.declarations.problems import Loc, Problem, format_path
from tutela.domain.erasure import CollectionPlan, PlanProblem, changes
from tutela.domain.errors import ConfigurationError, DeclarationInvalid
from tutela.domain.traversal import children_first

if TYPE_CHECKING:
    from tutela.adapters.connectors.sql import SqlConnector

#: rows per transaction
BATCH = 5000
#: why a due row is left as it is while a hold on a subject is in force
KEPT_REFERENCED = "other rows point at it while a legal hold on a subject is in force"
_DATE_KINDS = frozenset({"date", "datetime"})


@dataclass(frozen=True)
class _Collection:
    """One swept collection's table, columns and statements."""

    name: str
    table: Table
    keys: tuple[Column[Any], ...]
    dated: Column[Any]
    plan: CollectionPlan
    pinned: ColumnElement[bool]  # another row of the dataset points at this one
    has_children: bool
    identities: tuple[tuple[str, ColumnElement[Any]], ...]  # (Fides identity name, column)
    joins: Any  # the table joined along the references to its subject's identities
    text_dates: bool  # SQLite keeps dates as text: read (and resumed from) as text

    def due(self, with_cutoff: bool) -> ColumnElement[bool]:
        if not with_cutoff:
            return true()
        return self.dated <= bindparam("cutoff", type_=self.dated.type)


class SqlRetention(AbstractRetentionStore):
    """The collections of one dataset that the declarations' ``retention`` names."""

    def __init__(
        self, connector: SqlConnector, settings: Mapping[str, str], *, batch: int = BATCH
    ) -> None:
        self.connector = connector
        self.name = connector.dataset.fides_key
        active = {c.name for c in connector.dataset.active_collections}
        self.settings = {name: field for name, field in settings.items() if name in active}
        self.batch = batch

    # -- the collections ----------------------------------------------------------------

    def collections(self) -> list[SweptCollection]:
        ready = self._compiled
        links = [
            (link.child.collection, link.parent.collection) for link in self.connector.graph_links()
        ]
        order = children_first(list(self.settings), [*links, *erase_after(self.connector.dataset)])
        found = []
        for level in order.levels:
            for name in level:
                plan = self.connector.plan(name)
                categories = tuple(
                    dict.fromkeys(c for f in plan.fields if f.personal for c in f.categories)
                )
                linked = name in ready and bool(ready[name].identities)
                found.append(SweptCollection(name, self.settings[name], categories, linked))
        return found

    def problems(self) -> list[PlanProblem]:
        problems: list[PlanProblem] = []
        schema = self.connector.live
        dialect = self.connector.engine.dialect.name
        for name, field in self.settings.items():
            table = schema.tables.get(name)
            if table is None:
                problems.append(
                    PlanProblem(
                        name,
                        "",
                        "no such table in the database",
                        "create it, or correct the collection name in the dataset",
                        "live",
                    )
                )
                continue
            if not schema.primary_keys.get(name):
                problems.append(
                    PlanProblem(
                        name,
                        "",
                        "the table has no primary key, and sweeps delete and change rows by key",
                        "add a primary key to the table, or remove it from retention",
                        "live",
                    )
                )
            column = table.c.get(field)
            if column is None:
                problems.append(
                    PlanProblem(
                        name,
                        field,
                        "no such column in the table",
                        "name a column of the table under retention.dated_by",
                        "live",
                    )
                )
                continue
            kind = kind_of(column.type)
            if kind not in _DATE_KINDS and not (dialect == "sqlite" and kind == "string"):
                problems.append(
                    PlanProblem(
                        name,
                        field,
                        f"the column holds {kind} values, not dates or times",
                        "name a date or timestamp column under retention.dated_by"
                        + (
                            " (on SQLite, a text column of ISO 8601 dates)"
                            if dialect == "sqlite"
                            else ""
                        ),
                        "live",
                    )
                )
        return problems

    @cached_property
    def _compiled(self) -> dict[str, _Collection]:
        problems = self.problems()
        if problems:
            listed = "; ".join(str(p) for p in problems[:5])
            raise ConfigurationError(
                f"retention of {self.name} does not fit the database, nothing was changed: "
                f"{listed}",
                details={"problems": [str(p) for p in problems]},
            )
        schema = self.connector.live
        sqlite = self.connector.engine.dialect.name == "sqlite"
        found = {}
        for name, field in self.settings.items():
            table = schema.tables[name]
            found[name] = self._collection(name, table, table.c[field], sqlite)
        return found

    def _collection(self, name: str, table: Table, dated: Column[Any], sqlite: bool) -> _Collection:
        tables = self.connector.live.tables
        pins: list[ColumnElement[bool]] = []
        for link in self.connector.graph_links():
            child_table = tables.get(link.child.collection)
            if link.parent.collection != name or child_table is None:
                continue
            if link.child.field not in child_table.c or link.parent.field not in table.c:
                continue
            child = child_table.alias(f"_c{len(pins)}")
            pins.append(exists().where(child.c[link.child.field] == table.c[link.parent.field]))
        joins, identities = self._identities(name, table)
        return _Collection(
            name=name,
            table=table,
            keys=tuple(table.c[k] for k in self.connector.live.primary_keys[name]),
            dated=dated,
            plan=self.connector.plan(name),
            pinned=or_(false(), *pins),
            has_children=bool(pins),
            identities=identities,
            joins=joins,
            text_dates=sqlite,
        )

    def _identities(
        self, name: str, table: Table
    ) -> tuple[Any, tuple[tuple[str, ColumnElement[Any]], ...]]:
        """The table joined along the references to the collection holding its subject's
        identities, and those identity columns."""
        dataset = self.connector.dataset
        tables = self.connector.live.tables
        path = subject_path(dataset, name)
        if path is None:
            return table, ()
        joined: Any = table
        current: Any = table
        holder = name
        for step, link in enumerate(path):
            parent = tables.get(link.parent.collection)
            if parent is None or link.child.field not in current.c:
                return table, ()
            alias = parent.alias(f"_s{step}")
            joined = joined.outerjoin(
                alias, current.c[link.child.field] == alias.c[link.parent.field]
            )
            current, holder = alias, link.parent.collection
        columns = tuple(
            (identity, current.c[field])
            for field, identity in identity_fields(dataset, holder)
            if field in current.c
        )
        return joined, columns

    # -- sweeping -----------------------------------------------------------------------

    def sweep(
        self,
        due: Due,
        *,
        apply: bool,
        evidence: Evidence | None = None,
        progress: Progress | None = None,
    ) -> Tally:
        target = self._compiled[due.collection]
        verdict = due.verdict
        if verdict is not None and verdict.rule is None:
            return Tally()
        if verdict is not None and verdict.hold is not None:
            return self._held(target, due, verdict.hold)
        set_based = (
            verdict is not None
            and verdict.then == "delete"
            and not target.has_children
            and not target.plan.keeps_rows
        )
        if set_based:
            assert verdict is not None
            return self._delete_all(target, due, verdict, apply, evidence, progress)
        return self._by_row(target, due, apply, evidence, progress)

    def _refuse_pseudonyms(self, target: _Collection) -> None:
        hashed = [f.name for f in target.plan.fields if f.personal and f.strategy == "hash"]
        if hashed:
            raise ConfigurationError(
                f"{target.name}: anonymizing would hash {', '.join(hashed)}, and a keyed hash "
                "is a pseudonym, not anonymous data; choose null, redact or generalize for "
                "these fields under erasure",
                details={"collection": target.name, "fields": hashed},
            )

    def _params(self, target: _Collection, due: Due) -> dict[str, object]:
        if due.cutoff is None:
            return {}
        return {"cutoff": _bound(target, due.cutoff)}

    def _held(self, target: _Collection, due: Due, hold: str) -> Tally:
        statement = (
            select(func.count()).select_from(target.table).where(target.due(due.cutoff is not None))
        )
        with self.connector.reading() as connection:
            count = int(connection.execute(statement, self._params(target, due)).scalar() or 0)
        tally = Tally()
        if count:
            tally.held[hold] = count
        return tally

    def _delete_all(
        self,
        target: _Collection,
        due: Due,
        verdict: Verdict,
        apply: bool,
        evidence: Evidence | None,
        progress: Progress | None,
    ) -> Tally:
        """Every row dated up to the cutoff is deleted: one statement per batch."""
        assert verdict.rule is not None
        key = (verdict.rule, verdict.then)
        params = self._params(target, due)
        condition = target.due(due.cutoff is not None)
        tally = Tally()
        if not apply:
            counting = select(func.count()).select_from(target.table).where(condition)
            with self.connector.reading() as connection:
                count = int(connection.execute(counting, params).scalar() or 0)
            if count:
                tally.deleted[key] = count
            return tally
        statement = self._batch_delete(target, condition)
        while True:
            with self.connector.engine.begin() as connection:
                count = int(connection.execute(statement, params).rowcount or 0)
                if count:
                    done = Tally()
                    done.deleted[key] = count
                    if evidence is not None:
                        evidence(done)
                    tally.add(done)
            if progress is not None and count:
                progress(count)
            if count < self.batch:
                return tally

    def _batch_delete(self, target: _Collection, condition: ColumnElement[bool]) -> Delete:
        """DELETE of at most one batch of the rows meeting ``condition``: by key among the
        first rows that do, or, on MySQL and MariaDB (which take no LIMIT in an IN
        subquery, nor a subquery on the table a DELETE changes), with a LIMIT of its own."""
        if self.connector.engine.dialect.name in ("mysql", "mariadb"):
            limited = delete(target.table).where(condition)
            return limited.with_dialect_options(mysql_limit=self.batch)
        keys = target.keys[0] if len(target.keys) == 1 else tuple_(*target.keys)
        chosen = select(*target.keys).where(condition).limit(self.batch)
        return delete(target.table).where(keys.in_(chosen))

    def _by_row(
        self,
        target: _Collection,
        due: Due,
        apply: bool,
        evidence: Evidence | None,
        progress: Progress | None,
    ) -> Tally:
        """Read the due rows in batches, judge them, delete or anonymize them by key."""
        scan, order = self._scan(target, due.cutoff is not None)
        writer = self.connector.writer
        params = self._params(target, due)
        after: tuple[Hashable, ...] | None = None
        tally = Tally()
        while True:
            with self.connector.engine.begin() if apply else self.connector.reading() as connection:
                rows = self._rows(connection, scan, order, params, after)
                if not rows:
                    return tally
                after = tuple(rows[-1][name] for name in order)
                done, deletes, updates = self._decide(target, due, rows)
                if apply:
                    with Driver.of(connection) as driver:
                        if updates:
                            writer.update(driver, target.name, updates)
                        if deletes:
                            writer.delete(driver, target.name, deletes)
                    if evidence is not None and done:
                        evidence(done)
                tally.add(done)
            if progress is not None:
                progress(len(rows))
            if len(rows) < self.batch:
                return tally

    def _rows(
        self,
        connection: Connection,
        scan: Callable[[bool], Select[Any]],
        order: tuple[str, ...],
        params: Mapping[str, object],
        after: tuple[Hashable, ...] | None,
    ) -> list[dict[str, Any]]:
        values = dict(params)
        values["batch"] = self.batch
        if after is not None:
            values.update({f"_after{i}": value for i, value in enumerate(after)})
        result = connection.execute(scan(after is not None), values).mappings()
        return [dict(row) for row in result]

    def _scan(
        self, target: _Collection, with_cutoff: bool
    ) -> tuple[Callable[[bool], Select[Any]], tuple[str, ...]]:
        """The statement reading a batch of due rows after a keyset position: keys, date,
        identities, whether other rows point at the row, and the personal fields."""
        table = target.table
        dated = type_coerce(target.dated, String) if target.text_dates else target.dated
        columns: list[Any] = [table.c[k.name].label(k.name) for k in target.keys]
        fields = [f.name for f in target.plan.fields if f.name in table.c]
        columns += [table.c[n].label(n) for n in fields if n not in {k.name for k in target.keys}]
        columns += [dated.label("_dated"), target.pinned.label("_pinned")]
        columns += [column.label(f"_id{i}") for i, (_, column) in enumerate(target.identities)]
        order_columns: list[Any] = ([dated] if with_cutoff else []) + list(target.keys)
        order = (("_dated",) if with_cutoff else ()) + tuple(k.name for k in target.keys)
        base = (
            select(*columns)
            .select_from(target.joins)
            .where(target.due(with_cutoff))
            .order_by(*order_columns)
            .limit(bindparam("batch"))
        )
        positions = tuple(
            bindparam(
                f"_after{i}",
                type_=String() if target.text_dates and c is target.dated else c.type,
            )
            for i, c in enumerate(order_columns)
        )
        following = base.where(tuple_(*order_columns) > tuple_(*positions))
        return (lambda after: following if after else base), order

    def _decide(
        self, target: _Collection, due: Due, rows: list[dict[str, Any]]
    ) -> tuple[
        Tally, list[tuple[Hashable, ...]], list[tuple[tuple[Hashable, ...], Mapping[str, object]]]
    ]:
        names = [name for name, _ in target.identities]
        facts = [
            RowFacts(
                _micros(row["_dated"]),
                tuple(
                    (name, str(row[f"_id{i}"]))
                    for i, name in enumerate(names)
                    if row[f"_id{i}"] is not None
                ),
            )
            for row in rows
        ]
        if due.judge is not None:
            verdicts = due.judge(facts)
        else:
            assert due.verdict is not None
            verdicts = [due.verdict] * len(rows)
        done = Tally()
        deletes: list[tuple[Hashable, ...]] = []
        updates: list[tuple[tuple[Hashable, ...], Mapping[str, object]]] = []
        rules = self.connector.rules
        for row, verdict in zip(rows, verdicts, strict=True):
            if verdict.rule is None:
                continue
            if verdict.hold is not None:
                done.held[verdict.hold] += 1
                continue
            pinned = bool(row["_pinned"])
            if pinned and due.keep_referenced:
                done.kept[KEPT_REFERENCED] += 1
                continue
            key = tuple(row[k.name] for k in target.keys)
            if verdict.then == "delete" and not pinned and not target.plan.keeps_rows:
                deletes.append(key)
                done.deleted[(verdict.rule, verdict.then)] += 1
                continue
            self._refuse_pseudonyms(target)  # before anything of the batch is written
            values = {f.name: row.get(f.name) for f in target.plan.fields}
            change = changes(target.plan, values, rules, fallback=True)
            if change:
                updates.append((key, change))
                done.anonymized[(verdict.rule, verdict.then)] += 1
        return done, deletes, updates


def _bound(target: _Collection, cutoff: dt.datetime) -> object:
    """The cutoff as the dated column compares it."""
    utc = cutoff.astimezone(dt.UTC)
    column_type = target.dated.type
    if isinstance(column_type, DateTime):
        return utc if column_type.timezone else utc.replace(tzinfo=None)
    if isinstance(column_type, Date):
        return utc.date()  # a row dated D counts from D's midnight
    # ISO 8601 text: a space before the time sorts before "T", so a row written with "T"
    # on the cutoff's own day counts as later (kept a little longer, never deleted early)
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f")


def _micros(value: object) -> int | None:
    """A row's date in microseconds since the epoch (UTC unless it says); None if unreadable."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    else:
        return None
    return int(moment.timestamp() * 1_000_000)


def live_problems(
    declarations: Declarations,
    file: Path,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[Problem]:
    """For ``tutela check``: the declared retention of every database whose connection
    variable is set, against its live tables (a date column, a primary key)."""
    from tutela.adapters.connectors import open_sql_connectors
    from tutela.declarations.positions import read_yaml

    env = os.environ if environ is None else environ
    document = read_yaml(file.read_text(encoding="utf-8"))
    taxonomy = declarations.taxonomy
    parents = {e.key: e.parent for e in taxonomy.categories} if taxonomy else {}
    found: list[Problem] = []
    for index, entry in enumerate(declarations.datasets):
        if not entry.retention or entry.connection is None:
            continue
        variable = entry.connection.removeprefix("env:")
        if not env.get(variable):
            continue
        try:
            connectors = open_sql_connectors(
                entry, base_dir=file.parent, environ=env, parents=parents
            )
        except (ConfigurationError, SQLAlchemyError, DeclarationInvalid):
            continue  # the dataset file's own problems are reported by the check itself
        try:
            for connector in connectors:
                store = connector.retention_store()
                try:
                    problems = store.problems() if store is not None else []
                except SQLAlchemyError as error:
                    reason = str(error).splitlines()[0]
                    loc: Loc = ("datasets", index, "connection")
                    found.append(
                        Problem(
                            str(file),
                            document.line_of(loc),
                            format_path(loc),
                            f"retention not checked against the database: {reason}",
                            f"check the database {variable} names",
                        )
                    )
                    continue
                for problem in problems:
                    loc = ("datasets", index, "retention", problem.collection)
                    if problem.field:
                        loc = (*loc, "dated_by")
                    found.append(
                        Problem(
                            str(file),
                            document.line_of(loc),
                            format_path(loc),
                            f"{problem.collection}"
                            + (f".{problem.field}" if problem.field else "")
                            + f": {problem.message} (in the database)",
                            problem.fix,
                        )
                    )
        finally:
            if connectors:
                connectors[0].close()
    return found
