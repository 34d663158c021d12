"""An erasure's steps in a database: the rows shared with other subjects, the writes level
by level, and the summary of what was erased and kept."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import cast

from tutela.adapters.connectors.sql_driver import Driver
from tutela.adapters.connectors.sql_reaching import CountedReached, Counting
from tutela.adapters.connectors.sql_reading import Reader
from tutela.adapters.connectors.sql_writing import Key, Writer
from tutela.datasets.results import CollectionErasure, Kept
from tutela.domain.erasure import CollectionPlan
from tutela.domain.erasure_rows import Outcomes
from tutela.domain.traversal import FieldRef, Graph, Link, Reached, RowId, hashable


def key_of(key: Hashable) -> tuple[Hashable, ...]:
    """A row key as the writer takes it: a tuple of its columns' values."""
    return key if isinstance(key, tuple) else (key,)


def rows_by_id(reached: Reached) -> dict[RowId, Mapping[str, object]]:
    return {
        (collection, key): row
        for collection, rows in reached.rows.items()
        for row, key in zip(rows, reached.keys[collection], strict=True)
    }


#: links counted in one statement, and their child fields as (collection, field)
_Counted = tuple[tuple[Link, ...], tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class SharedLinks:
    """The links whose parent rows may be shared with rows outside a request, grouped by
    parent field and, within one, into lists whose child fields one statement can count."""

    #: per parent field, groups of links with their child fields (collection, field)
    groups: tuple[tuple[FieldRef, tuple[_Counted, ...]], ...]
    #: every link of the dataset, in its order (the first names a shared row's reason)
    links: tuple[Link, ...]

    @classmethod
    def of(cls, reader: Reader, graph: Graph, plans: Mapping[str, CollectionPlan]) -> SharedLinks:
        """Only links the traversal did not follow from parent to child need a query:
        where it did, every child row holding a reached parent's value was read (and
        locked) in the request's transaction, so no row outside it points there."""
        asked: dict[FieldRef, list[Link]] = {}
        for link in graph.links:
            if link in graph.followed_links or link.child.collection not in reader.selected:
                continue
            if not any(f.personal for f in plans[link.parent.collection].fields):
                continue  # nothing personal to protect in a shared row
            asked.setdefault(link.parent, []).append(link)
        groups = tuple(
            (
                parent,
                tuple(
                    (tuple(group), tuple((k.child.collection, k.child.field) for k in group))
                    for group in _same_type(reader, links)
                ),
            )
            for parent, links in asked.items()
        )
        return cls(groups, tuple(graph.links))

    @property
    def counting(self) -> Counting:
        """The counts as the one-statement read takes them along (``sql_reaching``)."""
        return tuple(
            (parent, tuple(fields for _, fields in groups)) for parent, groups in self.groups
        )


def outside_pins(
    driver: Driver, reader: Reader, shared: SharedLinks, reached: Reached
) -> dict[RowId, str]:
    """Reached rows that rows outside the request point at: they are shared with other
    subjects and stay untouched, whatever the strategy of their fields.

    A parent value is held outside the request when more child rows hold it than the
    request reached; the links to one parent field are counted in one statement, or in the
    read itself (:attr:`SharedLinks.counting`).
    """
    held: dict[Link, set[Hashable]] = {}
    # counted along with the read where it could (SQLite), else here
    counted = reached.counted if isinstance(reached, CountedReached) else {}
    for index, (parent, groups) in enumerate(shared.groups):
        values = {
            v
            for row in reached.rows.get(parent.collection, ())
            if (v := row.get(parent.field)) is not None and hashable(v)
        }
        if not values:
            continue
        for number, (group, fields) in enumerate(groups):
            found = counted.get((index, number))
            if found is None:
                found = reader.holding(driver, fields, values)
            for (position, value), rows in found.items():
                link = group[position]
                field = link.child.field
                inside = 0  # the request's own rows holding the value
                for row in reached.rows.get(link.child.collection, ()):
                    if row.get(field) == value:
                        inside += 1
                if rows > inside:
                    held.setdefault(link, set()).add(value)
    pins: dict[RowId, str] = {}
    if not any(held.values()):
        return pins
    for link in shared.links:  # the first link in the dataset's order names the reason
        pointed = held.get(link)
        if not pointed:
            continue
        parent = link.parent
        reason = f"referenced by {link.child} of rows outside this request"
        for row, key in zip(
            reached.rows[parent.collection], reached.keys[parent.collection], strict=True
        ):
            if row.get(parent.field) in pointed:
                pins.setdefault((parent.collection, key), reason)
    return pins


def _same_type(reader: Reader, links: list[Link]) -> list[list[Link]]:
    """Links whose child fields have one Python type (counted in one statement); a field
    of unknown type is counted alone."""
    groups: dict[object, list[Link]] = {}
    for index, link in enumerate(links):
        column = reader.schema.tables[link.child.collection].c[link.child.field]
        try:
            kind: object = column.type.python_type
        except NotImplementedError:
            kind = index
        groups.setdefault(kind, []).append(link)
    return list(groups.values())


def apply(driver: Driver, writer: Writer, levels: Outcomes) -> Counts:
    """Run the decisions level by level; updates before deletes within a level. Returns
    per collection the rows ``[deleted, updated]``. The outcomes' keys are the tuples a
    :class:`Reader` or the one-statement read gives (the key columns' values)."""
    counts: Counts = {}
    for level in levels:
        for outcome in level:
            if outcome.changed:
                rows = cast("list[tuple[Key, dict[str, object]]]", outcome.changed)
                _count(counts, outcome.collection)[1] += writer.update(
                    driver, outcome.collection, rows
                )
        for outcome in level:
            if outcome.deleted:
                keys = cast("list[Key]", outcome.deleted)
                _count(counts, outcome.collection)[0] += writer.delete(
                    driver, outcome.collection, keys
                )
    return counts


Counts = dict[str, list[int]]


def _count(counts: Counts, collection: str) -> list[int]:
    found = counts.get(collection)
    if found is None:
        found = counts[collection] = [0, 0]
    return found


def summary(levels: Outcomes, counts: Counts) -> tuple[CollectionErasure, ...]:
    """Per collection, in the order decided: rows reached, deleted, updated, and what the
    rows that stay keep (per field, reason and date, in how many rows)."""
    totals: dict[str, tuple[int, dict[tuple[str, str, str | None], int]]] = {}
    for level in levels:
        for outcome in level:
            name = outcome.collection
            before = totals.get(name)
            if before is None:
                totals[name] = (outcome.reached, outcome.kept)
                continue
            kept = dict(before[1])  # a collection in several levels (rows one by one)
            for item, rows in outcome.kept.items():
                kept[item] = kept.get(item, 0) + rows
            totals[name] = (before[0] + outcome.reached, kept)
    out: list[CollectionErasure] = []
    for name, (reached, kept) in totals.items():
        deleted, updated = counts.get(name, _NONE)
        what = [Kept(f, why, rows, until) for (f, why, until), rows in kept.items()] if kept else ()
        out.append(CollectionErasure(name, reached, deleted, updated, tuple(what)))
    return tuple(out)


_NONE = (0, 0)
