"""Reading every row of a request in one statement, on SQLite.

When the references let each collection's rows follow from those of the collections
before it (:attr:`~tutela.domain.traversal.AccessPlan.one_pass`), one statement finds them
all: a common table expression per collection, selecting its rows by the subject's
identity values or from the rows of the expressions before it, and the rows of every
expression returned together (``UNION ALL``, each record padded with NULLs — SQLite
columns take any type — and ending with its collection's position).

The statement is written out here rather than built with SQLAlchemy, because SQLite's
planner needs it in a particular shape: one SELECT per condition (an ``OR`` holding a
subquery can make it scan the whole table), and rows reached through a reference joined
with ``CROSS JOIN`` from the rows already found, which SQLite always runs as the outer loop —
so an empty set of parents costs nothing, as a skipped statement would. A field whose values
come from several references is selected instead by one ``IN`` over all of them (an address
that a customer, the customer's orders and cards all point at): each row is looked up once,
however many rows point at it. Names are quoted by the dialect, values are bound parameters.

Removing repeated rows costs SQLite a temporary index per ``DISTINCT`` or ``UNION``, about
as much as an indexed look-up, so the statement removes them only where a row could repeat
and later expressions read from it. A collection's rows cannot repeat when they come from one
SELECT over a table with a primary key, by identity values or joined on the primary key of
rows that cannot repeat either (a customer's orders by the customer's id); the rows of a
collection nothing reads from are told apart by their key as they are received.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Dialect

from tutela.domain.traversal import AccessPlan, FieldRef, Inflow, Reached, hashable

if TYPE_CHECKING:
    from tutela.adapters.connectors.sql_driver import Driver
    from tutela.adapters.connectors.sql_reading import Reader

#: SELECTs SQLite joins in one compound statement at most (its default limit).
MAX_SELECTS = 500

#: Collections read in one statement at most (each one SELECT in the final compound).
MAX_COLLECTIONS = 400

#: Rows to count along with the read: per parent field, lists of child fields
#: ``(collection, field)``; the rows of each child field holding each value the parent
#: field has in the rows read are counted (in the whole table).
Counting = tuple[tuple[FieldRef, tuple[tuple[tuple[str, str], ...], ...]], ...]


@dataclass
class CountedReached(Reached):
    """Rows reached, and the rows counted along (see :data:`Counting`): per ``(parent
    field's index, list's index)``, ``{(child field's index in the list, value): rows}``,
    values no row holds left out. A list whose parent collection was not read is absent."""

    counted: dict[tuple[int, int], dict[tuple[int, Hashable], int]] = dataclasses.field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    """How a collection's rows come back: its columns, where they end in a record, the
    result processors of those that have one (by position; None: none has), its key from
    its values, whether that key is a primary key (so no two records are the same row), and
    how its row is made."""

    names: tuple[str, ...]
    end: int
    processors: tuple[tuple[int, Callable[[Any], Any]], ...] | None
    key: Callable[[Sequence[Any]], tuple[Any, ...]]
    unique: bool
    #: the row's dictionary from its values (see ``_row_maker``)
    row: Callable[[Sequence[Any]], dict[str, object]]


@dataclass(frozen=True, slots=True)
class _Statement:
    sql: str
    kinds: tuple[str, ...]  # the identity type of each placeholder's list, in order
    #: positions of the collections whose records can repeat a row (removed by key)
    repeats: frozenset[int]
    #: how each position's records come back
    layouts: tuple[_Layout, ...]
    #: after the collections' positions, per counted list: its ``(parent, list)`` indexes
    #: in :data:`Counting`, its length, and the parent field's result processor
    counts: tuple[tuple[tuple[int, int], int, Callable[[Any], Any] | None], ...] = ()


def _key_of(positions: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A record's key: the values at these positions, as a tuple."""
    if len(positions) == 1:
        (at,) = positions
        return lambda values: (values[at],)
    return itemgetter(*positions)


def _row_maker(names: tuple[str, ...]) -> Callable[[Sequence[Any]], dict[str, object]]:
    """A function making a row's dictionary from a record whose first values are those of
    the columns ``names``: a dictionary display, compiled once per collection, builds it in
    a third of the time ``dict(zip(names, record))`` takes — the step a request's read
    repeats for every row. Each name is written as a string literal (``repr``) and each
    value taken by position: nothing of the names is ever run."""
    items = ", ".join(f"{name!r}: record[{at}]" for at, name in enumerate(names))
    made: Callable[[Sequence[Any]], dict[str, object]] = eval(  # noqa: S307 (literals only)
        f"lambda record: {{{items}}}", {"__builtins__": {}}
    )
    return made


class Reaching:
    """The one-statement read of a reader's collections."""

    def __init__(self, reader: Reader, dialect: Dialect, counting: Counting = ()) -> None:
        self.reader = reader
        self.dialect = dialect
        self.counting = counting
        self._statements: dict[tuple[object, ...], _Statement | None] = {}
        self._layouts: dict[str, _Layout] = {}

    def reach(
        self, driver: Driver, plan: AccessPlan, seeds: Mapping[str, frozenset[Hashable]]
    ) -> Reached | None:
        """Every row the plan reaches from the identity values ``seeds`` (identity type ->
        values); ``None`` when it cannot be read in one statement (values go round a
        cycle, too many collections, a reference from a field that is not read)."""
        if plan.one_pass is None or len(plan.order) > MAX_COLLECTIONS:
            return None
        lists = {kind: list(values) for kind, values in sorted(seeds.items()) if values}
        statement = self._statement(plan.order, plan.one_pass, lists)
        if statement is None:
            return None
        result = CountedReached(rows={}, keys={}, plan=plan, fetches=0)
        if not plan.order:
            return result
        counted = result.counted = {into: {} for into, _, _ in statement.counts}
        args = [value for kind in statement.kinds for value in lists[kind]]
        fetched = driver.execute(statement.sql, args).fetchall()
        result.fetches = 1
        layouts, repeats = statement.layouts, statement.repeats
        rows: list[list[Mapping[str, object]]] = [[] for _ in layouts]
        keys: list[list[Hashable]] = [[] for _ in layouts]
        seen: dict[int, set[Hashable]] = {}
        collections = len(layouts)
        for record in fetched:
            at = record[-1]  # each record: its collection's columns, NULLs, its position
            if at >= collections:  # a value and the rows of each child field holding it
                into, length, process = statement.counts[at - collections]
                value = record[0] if process is None else process(record[0])
                if not hashable(value):  # not counted either way (see ``outside_pins``)
                    continue
                tally = counted[into]
                for index in range(length):
                    if held := record[1 + index]:
                        tally[(index, value)] = held
                continue
            layout = layouts[at]
            values: Sequence[Any] = record
            if layout.processors is not None:
                values = list(record[: layout.end])
                for index, process in layout.processors:
                    values[index] = process(values[index])
            key = layout.key(values)
            if at in repeats:  # the same row twice: once
                if key in seen.setdefault(at, set()):
                    continue
                seen[at].add(key)
            rows[at].append(layout.row(values))
            keys[at].append(key)
        order = plan.order
        for at, found in enumerate(rows):
            if found:
                result.rows[order[at]] = found
                result.keys[order[at]] = keys[at]
        return result

    def _layout(self, collection: str) -> _Layout:
        layout = self._layouts.get(collection)
        if layout is None:
            reader, dialect = self.reader, self.dialect
            table = reader.schema.tables[collection]
            names = reader.selected[collection]
            found = tuple(
                (index, process)
                for index, name in enumerate(names)
                if (
                    process := dialect.type_descriptor(table.c[name].type).result_processor(
                        dialect, None
                    )
                )
                is not None
            )
            layout = self._layouts[collection] = _Layout(
                names,
                len(names),
                found or None,
                _key_of([names.index(name) for name in reader.key_columns[collection]]),
                bool(reader.schema.primary_keys.get(collection)),
                _row_maker(names),
            )
        return layout

    def _statement(
        self,
        order: tuple[str, ...],
        inflows: tuple[Inflow, ...],
        lists: Mapping[str, list[object]],
    ) -> _Statement | None:
        cache = (order, *((kind, len(values)) for kind, values in lists.items()))
        if cache not in self._statements:
            self._statements[cache] = self._write(inflows, lists)
        return self._statements[cache]

    def _joins(
        self,
        inflow: Inflow,
        table: str,
        columns: tuple[str, str],
        position: Mapping[str, int],
        distinct: Sequence[bool],
    ) -> tuple[list[tuple[str, str]], bool] | None:
        """The selects of a collection's rows through the references into it (``columns``:
        its columns plain and as ``t.…``), and whether each gives every row at most once;
        ``None`` when a reference's field is not read."""
        reader, quote = self.reader, self.dialect.identifier_preparer.quote
        keys = reader.schema.primary_keys
        plain, joined = columns
        selects: list[tuple[str, str]] = []
        once = True
        for field, refs in inflow.sources:
            if any(ref.field not in reader.selected[ref.collection] for ref in refs):
                return None
            if len(refs) > 1:  # several references give the field's values: each row once
                values = " UNION ALL ".join(
                    f"SELECT {quote(ref.field)} "
                    f"FROM {quote(f'tutela_reached_{position[ref.collection]}')}"
                    for ref in refs
                )
                selects.append((plain, f"FROM {table} WHERE {quote(field)} IN ({values})"))
                continue
            for ref in refs:
                parent_at = position[ref.collection]
                parent = quote(f"tutela_reached_{parent_at}")
                selects.append(
                    (
                        joined,
                        f"FROM {parent} CROSS JOIN {table} AS t "
                        f"ON t.{quote(field)} = {parent}.{quote(ref.field)}",
                    )
                )
                # one parent row per value: its key, in an expression without repeats
                once = once and distinct[parent_at] and keys.get(ref.collection) == (ref.field,)
        return selects, once

    def _write(
        self, inflows: tuple[Inflow, ...], lists: Mapping[str, list[object]]
    ) -> _Statement | None:
        """The statement's SQL for these inflows and IN-list lengths."""
        reader = self.reader
        keys = reader.schema.primary_keys
        quote = self.dialect.identifier_preparer.quote
        position = {inflow.collection: at for at, inflow in enumerate(inflows)}
        read_from = {
            position[ref.collection] for i in inflows for _, refs in i.sources for ref in refs
        }
        width = max((len(reader.selected[i.collection]) for i in inflows), default=0)
        counting = self._counted(position)
        width = max([width, *(1 + len(c) for _, _, lists_ in counting for c in lists_)])
        ctes: list[str] = []
        kinds: list[str] = []
        parts: list[str] = []
        distinct: list[bool] = []  # per expression: no row in it twice
        repeats: set[int] = set()
        for at, inflow in enumerate(inflows):
            name = inflow.collection
            table = self.dialect.identifier_preparer.format_table(reader.schema.tables[name])
            columns = reader.selected[name]
            plain = ", ".join(quote(c) for c in columns)
            joined = ", ".join(f"t.{quote(c)}" for c in columns)
            selects: list[tuple[str, str]] = []  # (columns, the rest), without SELECT
            for kind, fields in inflow.identities:
                marks = ", ".join("?" * len(lists.get(kind, ())))
                for field in fields:
                    if not marks:
                        continue
                    selects.append((plain, f"FROM {table} WHERE {quote(field)} IN ({marks})"))
                    kinds.append(kind)
            joins = self._joins(inflow, table, (plain, joined), position, distinct)
            if joins is None:
                return None
            selects += joins[0]
            once = joins[1]
            if not selects:  # nothing can select its rows (no identity value of its types)
                selects.append((plain, f"FROM {table} WHERE 0"))
            unique = bool(keys.get(name)) and once and len(selects) == 1
            if unique or at not in read_from:
                body = " UNION ALL ".join(f"SELECT {c} {rest}" for c, rest in selects)
                if not unique:
                    repeats.add(at)
            elif len(selects) > 1:  # rows read by later expressions: repeats removed here
                body = " UNION ".join(f"SELECT {c} {rest}" for c, rest in selects)
            else:
                ((chosen, rest),) = selects
                body = f"SELECT DISTINCT {chosen} {rest}"
            distinct.append(unique or at in read_from)
            ctes.append(f"{quote(f'tutela_reached_{at}')} AS ({body})")
            pad = "".join(", NULL" for _ in range(len(columns), width))
            parts.append(f"SELECT {plain}{pad}, {at} FROM {quote(f'tutela_reached_{at}')}")
        layouts = tuple(self._layout(inflow.collection) for inflow in inflows)
        counts = self._counts(counting, layouts, position, width, parts)
        sql = f"WITH {', '.join(ctes)} {' UNION ALL '.join(parts)}"
        # without a primary key, equal records are one row wherever they come from
        repeats.update(at for at, layout in enumerate(layouts) if not layout.unique)
        return _Statement(sql, tuple(kinds), frozenset(repeats), layouts, counts)

    def _counted(
        self, position: Mapping[str, int]
    ) -> list[tuple[int, FieldRef, tuple[tuple[tuple[str, str], ...], ...]]]:
        """The counts this read can take along: those whose parent field it reads (none
        when they would make more SELECTs than SQLite joins in one)."""
        selected = self.reader.selected
        found = [
            (index, parent, lists)
            for index, (parent, lists) in enumerate(self.counting)
            if parent.collection in position and parent.field in selected[parent.collection]
        ]
        if len(position) + sum(len(lists) for _, _, lists in found) > MAX_SELECTS:
            return []
        return found

    def _counts(
        self,
        counting: list[tuple[int, FieldRef, tuple[tuple[tuple[str, str], ...], ...]]],
        layouts: tuple[_Layout, ...],
        position: Mapping[str, int],
        width: int,
        parts: list[str],
    ) -> tuple[tuple[tuple[int, int], int, Callable[[Any], Any] | None], ...]:
        """Add a part per counted list to ``parts``; how each one's records come back."""
        counts: list[tuple[tuple[int, int], int, Callable[[Any], Any] | None]] = []
        for index, parent, lists in counting:
            layout = layouts[position[parent.collection]]
            process = dict(layout.processors or ()).get(layout.names.index(parent.field))
            for number, children in enumerate(lists):
                parts.append(
                    self._count(parent, children, position, width, len(layouts) + len(counts))
                )
                counts.append(((index, number), len(children), process))
        return tuple(counts)

    def _count(
        self,
        parent: FieldRef,
        fields: Sequence[tuple[str, str]],
        position: Mapping[str, int],
        width: int,
        at: int,
    ) -> str:
        """A record per row read of ``parent``'s collection: the parent field's value, the
        rows of each child field holding it, NULLs to ``width``, and ``at``."""
        preparer = self.dialect.identifier_preparer
        tables = self.reader.schema.tables
        source = preparer.quote(f"tutela_reached_{position[parent.collection]}")
        value = f"{source}.{preparer.quote(parent.field)}"
        counts = "".join(
            f", (SELECT count(*) FROM {preparer.format_table(tables[collection])} "
            f"WHERE {preparer.quote(name)} = {value})"
            for collection, name in fields
        )
        pad = "".join(", NULL" for _ in range(1 + len(fields), width))
        return f"SELECT {value}{counts}{pad}, {at} FROM {source} WHERE {value} IS NOT NULL"
