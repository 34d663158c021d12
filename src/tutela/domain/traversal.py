"""Which rows belong to a data subject, and in which order they can be read and erased.

A :class:`Graph` has collections (tables), the identity fields a subject is looked up by,
and two relations between fields, both drawn from a dataset's references:

- an :class:`Edge` says values flow from ``source`` to ``target``: once a row of the source
  collection is found, the target collection is queried for rows whose target field equals
  the row's source value (a reference ``direction: to`` on field A to B gives A → B,
  ``from`` gives B → A, no direction gives both);
- a :class:`Link` says ``child`` holds values of ``parent``, the parent collection's key: a
  parent row must outlive every child row that points at it, so children are erased first.

:func:`traverse` finds every row connected to the identity values (a least fixpoint, so
cycles are fine) through a ``fetch`` function the caller supplies; :func:`access_plan`
gives the order collections are queried in and the collections nothing reaches;
:func:`children_first` orders anything linked child → parent into levels.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, NamedTuple, TypeVar

N = TypeVar("N", bound=Hashable)

Row = Mapping[str, object]
#: ``fetch(collection, {field: values})``: rows where any field equals one of its values.
Fetch = Callable[[str, Mapping[str, frozenset[Hashable]]], Iterable[Row]]
#: ``row_key(collection, row)``: what tells two rows of a collection apart.
RowKey = Callable[[str, Row], Hashable]


@dataclass(frozen=True, order=True, slots=True)
class FieldRef:
    collection: str
    field: str

    def __str__(self) -> str:
        return f"{self.collection}.{self.field}"


@dataclass(frozen=True, slots=True)
class Edge:
    """Values of ``source`` select rows of ``target``'s collection."""

    source: FieldRef
    target: FieldRef


@dataclass(frozen=True, slots=True)
class Link:
    """``child`` holds values of ``parent``, a key of the parent collection."""

    child: FieldRef
    parent: FieldRef


@dataclass(frozen=True)
class Graph:
    collections: tuple[str, ...]
    #: identity type (``email``, ``phone_number`` …) -> the fields holding it
    identities: Mapping[str, tuple[FieldRef, ...]] = field(default_factory=dict)
    edges: tuple[Edge, ...] = ()
    links: tuple[Link, ...] = ()
    #: (first, then): ``then`` is queried after ``first`` (a dataset's ``after``)
    after: tuple[tuple[str, str], ...] = ()

    @cached_property
    def flows(self) -> dict[str, tuple[tuple[str, tuple[str, str]], ...]]:
        """:attr:`edges_from` as ``(source field, (target collection, target field))``."""
        return {
            name: tuple(
                (edge.source.field, (edge.target.collection, edge.target.field)) for edge in edges
            )
            for name, edges in self.edges_from.items()
        }

    @cached_property
    def edges_from(self) -> dict[str, tuple[Edge, ...]]:
        out: dict[str, list[Edge]] = {}
        for edge in self.edges:
            out.setdefault(edge.source.collection, []).append(edge)
        return {name: tuple(edges) for name, edges in out.items()}

    def entry_fields(self, identity_names: Iterable[str]) -> tuple[FieldRef, ...]:
        return tuple(ref for name in identity_names for ref in self.identities.get(name, ()))

    @cached_property
    def _access_plans(self) -> dict[frozenset[str], AccessPlan]:
        return {}

    def access_plan(self, identity_names: Iterable[str]) -> AccessPlan:
        """:func:`access_plan`, computed once per set of identity names."""
        names = frozenset(identity_names)
        plan = self._access_plans.get(names)
        if plan is None:
            plan = self._access_plans[names] = access_plan(self, names)
        return plan

    @cached_property
    def followed_links(self) -> frozenset[Link]:
        """Links the traversal follows from parent to child: every child row holding a
        reached parent's value is fetched (the child collection is queried by that value)."""
        edges = set(self.edges)
        return frozenset(link for link in self.links if Edge(link.parent, link.child) in edges)


#: A row: its collection and its key there.
RowId = tuple[str, Hashable]


class RowLink(NamedTuple):
    """Row ``child`` points at row ``parent`` through the child's field ``field``."""

    child: RowId
    parent: RowId
    field: str


@dataclass(frozen=True)
class Inflow:
    """How rows of ``collection`` are selected: by the subject's identity values in
    ``identities`` (identity type -> fields), or because a field equals a value of fields of
    collections before it (field -> those fields)."""

    collection: str
    identities: tuple[tuple[str, tuple[str, ...]], ...]
    sources: tuple[tuple[str, tuple[FieldRef, ...]], ...]


@dataclass(frozen=True)
class AccessPlan:
    """Collections in the order they are queried, and those no identity reaches.

    ``one_pass``: when no value flows from a collection to itself or to one before it, each
    collection's rows follow from those of the collections before it, in one pass (a single
    query can then find them all); ``None`` when values go round a cycle.
    """

    order: tuple[str, ...]
    unreachable: tuple[str, ...]
    one_pass: tuple[Inflow, ...] | None = None

    @cached_property
    def rank(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.order)}


def access_plan(graph: Graph, identity_names: Iterable[str]) -> AccessPlan:
    """Upstream collections come before the collections their values select."""
    entries = {ref.collection for ref in graph.entry_fields(identity_names)}
    reached = set(entries)
    todo = list(entries)
    while todo:
        for edge in graph.edges_from.get(todo.pop(), ()):
            if edge.target.collection not in reached:
                reached.add(edge.target.collection)
                todo.append(edge.target.collection)
    nodes = [c for c in graph.collections if c in reached]
    pairs = [(e.source.collection, e.target.collection) for e in graph.edges]
    pairs += list(graph.after)
    levels = children_first(nodes, pairs).levels
    order = tuple(node for level in levels for node in level)
    unreachable = tuple(c for c in graph.collections if c not in reached)
    return AccessPlan(order, unreachable, _one_pass(graph, frozenset(identity_names), order))


def _one_pass(
    graph: Graph, identity_names: frozenset[str], order: tuple[str, ...]
) -> tuple[Inflow, ...] | None:
    rank = {name: index for index, name in enumerate(order)}
    sources: dict[str, dict[str, list[FieldRef]]] = {name: {} for name in order}
    for edge in graph.edges:
        source, target = edge.source, edge.target
        if source.collection not in rank or target.collection not in rank:
            continue
        if rank[source.collection] >= rank[target.collection]:
            return None  # values go round a cycle: the collection is queried again
        sources[target.collection].setdefault(target.field, []).append(source)
    identities: dict[str, dict[str, list[str]]] = {name: {} for name in order}
    for name in sorted(identity_names):
        for ref in graph.identities.get(name, ()):
            identities[ref.collection].setdefault(name, []).append(ref.field)
    return tuple(
        Inflow(
            name,
            tuple((kind, tuple(fields)) for kind, fields in identities[name].items()),
            tuple((field, tuple(refs)) for field, refs in sources[name].items()),
        )
        for name in order
    )


@dataclass
class Reached:
    """Rows found per collection (in the order found) and how many fetches it took."""

    rows: dict[str, list[Row]]
    keys: dict[str, list[Hashable]]
    plan: AccessPlan
    fetches: int = 0


_NOTHING: frozenset[Hashable] = frozenset()


def traverse(
    graph: Graph,
    seeds: Mapping[str, Iterable[Hashable]],
    fetch: Fetch,
    row_key: RowKey,
) -> Reached:
    """Every row connected to the identity values ``seeds`` (identity type -> values)."""
    plan = graph.access_plan(name for name, values in seeds.items() if values)
    rank = plan.rank
    flows = graph.flows
    # collection -> field -> values to look for; (collection, field) -> values looked for
    pending: dict[str, dict[str, set[Hashable]]] = {}
    asked: dict[tuple[str, str], set[Hashable]] = {}
    for name, values in seeds.items():
        for ref in graph.identities.get(name, ()):
            pending.setdefault(ref.collection, {}).setdefault(ref.field, set()).update(values)
    result = Reached(rows={}, keys={}, plan=plan)
    seen: dict[str, set[Hashable]] = {}
    while pending:
        if len(pending) == 1:
            collection = next(iter(pending))
        else:
            collection = min(pending, key=rank.__getitem__)
        query = _fresh(collection, pending.pop(collection), asked)
        if not query:
            continue
        result.fetches += 1
        known = seen.setdefault(collection, set())
        rows = result.rows.setdefault(collection, [])
        keys = result.keys.setdefault(collection, [])
        onward = flows.get(collection, ())
        for row in fetch(collection, query):
            key = row_key(collection, row)
            if key in known:
                continue
            known.add(key)
            rows.append(row)
            keys.append(key)
            for source, target in onward:
                value = row.get(source)
                if value is None:
                    continue
                try:
                    if value in asked.get(target, _NOTHING):
                        continue
                    waiting = pending.get(target[0])
                    if waiting is None:
                        pending[target[0]] = {target[1]: {value}}
                    elif (held := waiting.get(target[1])) is None:
                        waiting[target[1]] = {value}
                    else:
                        held.add(value)
                except TypeError:  # unhashable: cannot select rows by it
                    continue
    result.rows = {name: rows for name, rows in result.rows.items() if rows}
    result.keys = {name: keys for name, keys in result.keys.items() if keys}
    return result


def _fresh(
    collection: str,
    wanted: Mapping[str, set[Hashable]],
    asked: dict[tuple[str, str], set[Hashable]],
) -> dict[str, frozenset[Hashable]]:
    """The values of ``wanted`` not looked for yet, now marked as looked for."""
    query: dict[str, frozenset[Hashable]] = {}
    for name, values in wanted.items():
        done = asked.setdefault((collection, name), set())
        fresh = frozenset(values - done) if done else frozenset(values)
        if fresh:
            done.update(fresh)
            query[name] = fresh
    return query


def row_links(links: Iterable[Link], reached: Reached) -> list[RowLink]:
    """Links between reached rows: a child row whose field holds a reached parent's key."""
    out: list[RowLink] = []
    rows, keys = reached.rows, reached.keys
    for link in links:
        if link.child.collection not in rows:
            continue
        parents: dict[Hashable, list[RowId]] = {}
        collection, field = link.parent.collection, link.parent.field
        for row, key in zip(rows.get(collection, ()), keys.get(collection, ()), strict=True):
            value = row.get(field)
            if value is not None and hashable(value):
                parents.setdefault(value, []).append((collection, key))
        if not parents:
            continue
        collection, field = link.child.collection, link.child.field
        for row, key in zip(rows[collection], keys[collection], strict=True):
            value = row.get(field)
            if value is None or not hashable(value):
                continue
            found = parents.get(value)
            if found:
                child: RowId = (collection, key)
                out.extend(RowLink(child, parent, field) for parent in found if parent != child)
    return out


#: Types whose values are always hashable (most keys): no need to try.
_HASHABLE = frozenset({int, str, bytes, float, bool})


def hashable(value: object) -> bool:
    """Whether ``value`` can be a set member (a list or a dict read from a JSON column cannot)."""
    if type(value) in _HASHABLE:
        return True
    try:
        hash(value)
    except TypeError:
        return False
    return True


@dataclass(frozen=True)
class Ordering(Generic[N]):
    """Nodes in levels: every node comes after all nodes that must precede it.

    Nodes on a cycle cannot be ordered among themselves; they share a level and each cycle
    is listed in ``cycles``.
    """

    levels: tuple[tuple[N, ...], ...]
    cycles: tuple[tuple[N, ...], ...]


def children_first(nodes: Iterable[N], pairs: Iterable[tuple[N, N]]) -> Ordering[N]:
    """Levels of ``nodes`` such that for each ``(first, then)`` pair, ``first``'s level is
    lower than ``then``'s (for erasure: ``(child, parent)``). Pairs naming unknown nodes are
    ignored; within a level, nodes keep their given order."""
    order = list(dict.fromkeys(nodes))
    position = {node: index for index, node in enumerate(order)}
    after: dict[N, list[N]] = {node: [] for node in order}
    for first, then in pairs:
        if first in position and then in position and first != then:
            after[first].append(then)
    components = _strongly_connected(order, after)
    component_of = {node: index for index, members in enumerate(components) for node in members}
    level = [0] * len(components)
    # Tarjan lists components in reverse topological order: successors come first.
    for index in range(len(components) - 1, -1, -1):
        for node in components[index]:
            for then in after[node]:
                other = component_of[then]
                if other != index:
                    level[other] = max(level[other], level[index] + 1)
    grouped: dict[int, list[N]] = {}
    for node in order:
        grouped.setdefault(level[component_of[node]], []).append(node)
    cycles = tuple(
        tuple(sorted(members, key=position.__getitem__))
        for members in components
        if len(members) > 1
    )
    return Ordering(tuple(tuple(grouped[k]) for k in sorted(grouped)), cycles)


def _strongly_connected(order: Sequence[N], after: Mapping[N, list[N]]) -> list[list[N]]:
    """Tarjan's algorithm without recursion; components in reverse topological order."""
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    stack: list[N] = []
    on_stack: set[N] = set()
    components: list[list[N]] = []
    for root in order:
        if root in index:
            continue
        work: list[tuple[N, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = after[node]
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                members: list[N] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                components.append(members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components
