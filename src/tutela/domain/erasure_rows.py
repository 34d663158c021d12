"""Which reached rows an erasure deletes, which stay and with what new values, and why —
children before the parents they point at, so that no row is left pointing at a deleted one.

:func:`decide` orders rows one by one along their links (any dataset, cycles included);
:func:`decide_collections` decides whole collections in turn when the links between
collections allow it, and decides as :func:`decide` does (a property test holds them equal).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tutela.domain.erasure import CollectionPlan, Rules, changes, replaced
from tutela.domain.traversal import Graph, Link, RowId, RowLink, children_first, hashable


@dataclass(frozen=True)
class Decision:
    """Delete the row, or change these fields; ``pinned_by`` says why a row stays that a
    field wanted deleted."""

    row: RowId
    delete: bool
    changes: Mapping[str, object]
    pinned_by: str | None = None


@dataclass(frozen=True)
class Steps:
    """Decisions in levels: children before the parents they point at."""

    levels: tuple[tuple[Decision, ...], ...]
    cycles: tuple[tuple[RowId, ...], ...]


def decide(
    plans: Mapping[str, CollectionPlan],
    rows: Mapping[RowId, Mapping[str, object]],
    links: Iterable[RowLink],
    rules: Rules,
    *,
    outside: Mapping[RowId, str] | None = None,
    erase_after: Iterable[tuple[str, str]] = (),
) -> Steps:
    """What happens to each row, children first.

    A row that ``outside`` names (rows this request does not erase point at it: it is
    shared with other subjects) stays untouched. A row that a field wants deleted stays when
    one of its children stays with its link intact.
    ``erase_after`` pairs ``(first, then)`` put all rows of ``first`` before those of ``then``.
    """
    outside = outside or {}
    link_list = list(links)
    children: dict[RowId, list[RowLink]] = {}
    for link in link_list:
        children.setdefault(link.parent, []).append(link)
    pairs: list[tuple[RowId, RowId]] = [(link.child, link.parent) for link in link_list]
    barriers = _barriers(rows, erase_after, pairs)
    ordering = children_first([*rows, *barriers], pairs)
    decided: dict[RowId, Decision] = {}
    levels: list[tuple[Decision, ...]] = []
    for level in ordering.levels:
        step: list[Decision] = []
        for row_id in level:
            if row_id in barriers:
                continue
            plan = plans[row_id[0]]
            shared = outside.get(row_id)
            if shared is not None:
                # rows of other subjects point at it: it is theirs too, and stays untouched
                decision = _shared(row_id, shared)
            else:
                pin = None
                if plan.wants_delete and row_id in children:  # a child that stays keeps it
                    pin = next(
                        (_label(link) for link in children[row_id] if _holds(decided, link)),
                        None,
                    )
                decision = _decision(plan, row_id, rows[row_id], pin, rules)
            decided[row_id] = decision
            step.append(decision)
        if step:
            levels.append(tuple(step))
    cycles = tuple(tuple(r for r in cycle if r not in barriers) for cycle in ordering.cycles)
    return Steps(tuple(levels), cycles)


def erasure_graph(
    graph: Graph, plans: Mapping[str, CollectionPlan], erase_after: Iterable[tuple[str, str]]
) -> Graph:
    """The part of ``graph`` an erasure reads: without the collections that hold nothing
    personal, point at no other collection's rows (so keep none and share none) and from
    which no other collection it reads is reached — their rows would only be reached,
    never changed (a shop's products, reached through order lines)."""
    ordered = {name for pair in erase_after for name in pair}
    children = {link.child.collection for link in graph.links}
    idle = {
        name
        for name in graph.collections
        if name not in ordered
        and name not in children
        and (plan := plans.get(name)) is not None
        and not any(f.personal for f in plan.fields)
    }
    changed = True
    while changed:  # a collection that leads to one read is read as well
        leading = {
            edge.source.collection
            for edge in graph.edges
            if edge.source.collection in idle and edge.target.collection not in idle
        }
        idle -= leading
        changed = bool(leading)
    if not idle:
        return graph
    return Graph(
        collections=tuple(c for c in graph.collections if c not in idle),
        identities={
            name: kept
            for name, refs in graph.identities.items()
            if (kept := tuple(r for r in refs if r.collection not in idle))
        },
        edges=tuple(
            edge
            for edge in graph.edges
            if edge.source.collection not in idle and edge.target.collection not in idle
        ),
        links=tuple(link for link in graph.links if link.parent.collection not in idle),
        after=tuple(pair for pair in graph.after if not idle & set(pair)),
    )


def erasure_fields(graph: Graph, plans: Mapping[str, CollectionPlan]) -> dict[str, set[str]]:
    """Per collection of ``graph`` (an :func:`erasure_graph`), the fields whose values an
    erasure needs besides the key: those its references join on and, where a row may stay
    (a field keeps rows, or a link points into the collection), the personal fields, whose
    new values follow from the old. Rows that always go need nothing more than their key."""
    needed: dict[str, set[str]] = {name: set() for name in graph.collections}
    for edge in graph.edges:
        needed[edge.source.collection].add(edge.source.field)
        needed[edge.target.collection].add(edge.target.field)
    pointed_at = set()
    for link in graph.links:
        needed[link.child.collection].add(link.child.field)
        needed[link.parent.collection].add(link.parent.field)
        pointed_at.add(link.parent.collection)
    for name in graph.collections:
        plan = plans.get(name)
        if plan is not None and (name in pointed_at or not plan.deletes_rows):
            needed[name].update(f.name for f in plan.fields if f.personal)
    return needed


@dataclass(slots=True)
class CollectionOutcome:
    """What an erasure does to the reached rows of one collection (in one level): the keys
    of the rows deleted, the new values of the rows changed, and what the rows that stay
    keep (``(field, reason, until)`` -> rows)."""

    collection: str
    reached: int = 0
    deleted: list[Hashable] = field(default_factory=list)
    changed: list[tuple[Hashable, dict[str, object]]] = field(default_factory=list)
    kept: dict[tuple[str, str, str | None], int] = field(default_factory=dict)

    def keep(
        self,
        plan: CollectionPlan,
        row: Mapping[str, object],
        change: Mapping[str, object],
        pinned_by: str | None,
    ) -> None:
        """Count what a row that stays keeps."""
        kept = self.kept
        if pinned_by:
            item: tuple[str, str, str | None] = (plan.collection, pinned_by, None)
            kept[item] = kept.get(item, 0) + 1
        for name, label, reason, until in plan.kept_whatever_the_values:
            if row.get(name) is not None and name not in change:
                item = (label, reason, until)
                kept[item] = kept.get(item, 0) + 1


Outcomes = tuple[tuple[CollectionOutcome, ...], ...]


def outcomes(
    steps: Steps, plans: Mapping[str, CollectionPlan], rows: Mapping[RowId, Mapping[str, object]]
) -> Outcomes:
    """The decisions of :func:`decide`, level by level and per collection within a level
    (in the order the level first has them)."""
    out: list[tuple[CollectionOutcome, ...]] = []
    for level in steps.levels:
        found: dict[str, CollectionOutcome] = {}
        for decision in level:
            name, key = decision.row
            outcome = found.get(name)
            if outcome is None:
                outcome = found[name] = CollectionOutcome(name)
            outcome.reached += 1
            if decision.delete:
                outcome.deleted.append(key)
                continue
            if decision.changes:
                outcome.changed.append((key, dict(decision.changes)))
            outcome.keep(plans[name], rows[decision.row], decision.changes, decision.pinned_by)
        out.append(tuple(found.values()))
    return tuple(out)


def decide_collections(
    plans: Mapping[str, CollectionPlan],
    rows: Mapping[str, Sequence[Mapping[str, object]]],
    keys: Mapping[str, Sequence[Hashable]],
    order: WholeCollections,
    rules: Rules,
    *,
    outside: Mapping[RowId, str] | None = None,
) -> Outcomes:
    """:func:`decide` and :func:`outcomes` for rows given per collection (``rows`` and
    their ``keys``, in the same order), whole collections in turn in the ``order`` of
    :func:`whole_collections`: every collection comes after those whose rows point at it,
    and a row stays for a child when one of the child rows that stay holds its value in a
    linked field. Decides as :func:`decide` does on the rows' links (``row_links``), with no
    link between two rows built."""
    # per collection and row: the new values of a row that stays, None for a deleted one
    stays: dict[str, list[Mapping[str, object] | None]] = {}
    steps: list[tuple[CollectionOutcome, ...]] = []
    for level in order.steps(plans, rules):
        step: list[CollectionOutcome] = []
        for each in level:
            name = each.name
            found = rows.get(name)
            if not found:
                continue
            pins = _pins(found, each.into, rows, stays) if each.into else None
            found_keys = keys[name]
            deletes = each.deletes
            plan, tallies, replacements = each.plan, each.tallies, each.replacements
            if not pins and not (outside and _any_shared(name, found_keys, outside)):
                if deletes:  # every row goes
                    step.append(CollectionOutcome(name, len(found), list(found_keys), [], {}))
                    continue
                if not replacements and not tallies:  # every row stays as it is
                    step.append(CollectionOutcome(name, len(found), [], [], {}))
                    stays[name] = [_UNCHANGED] * len(found)
                    continue
            outcome = CollectionOutcome(name, len(found), [], [], {})
            status: list[Mapping[str, object] | None] = []
            for at, (row, key) in enumerate(zip(found, found_keys, strict=True)):
                shared = outside.get((name, key)) if outside else None
                if shared is not None:  # the row is other subjects' too: untouched
                    status.append(_UNCHANGED)
                    outcome.keep(plan, row, _UNCHANGED, _shared_reason(shared))
                    continue
                pin = pins.get(at) if pins else None
                if deletes and pin is None:
                    outcome.deleted.append(key)
                    status.append(None)
                    continue
                change = replaced(replacements, row)
                if change:
                    outcome.changed.append((key, change))
                status.append(change)
                if tallies or pin is not None:
                    outcome.keep(plan, row, change, pin)
            if len(outcome.deleted) < len(found):  # some rows stay: they may keep parents
                stays[name] = status
            step.append(outcome)
        if step:
            steps.append(tuple(step))
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class _Deciding:
    """What :func:`decide_collections` needs of a collection, prepared once per plans and
    rules: its plan, whether its rows go, the replacement values of a row that stays,
    whether rows that stay keep personal fields whatever their values, and — when a field
    wants rows deleted — the links into it as ``(child collection, child field, parent
    field, reason)``, through which a child row that stays keeps a row."""

    name: str
    plan: CollectionPlan
    deletes: bool
    replacements: tuple[tuple[str, object, Callable[[object], object] | None], ...]
    tallies: bool
    into: tuple[tuple[str, str, str, str], ...]


@dataclass(frozen=True)
class WholeCollections:
    """Collections children first, so that whole collections can be decided in turn, and
    per collection the links that point into it, each with the reason it gives a row to
    stay (in the dataset's order)."""

    levels: tuple[tuple[str, ...], ...]
    into: Mapping[str, tuple[tuple[Link, str], ...]]
    _memo: dict[int, tuple[object, object, tuple[tuple[_Deciding, ...], ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def steps(
        self, plans: Mapping[str, CollectionPlan], rules: Rules
    ) -> tuple[tuple[_Deciding, ...], ...]:
        """The levels, each collection with what deciding it needs (built once per
        ``plans`` and ``rules``)."""
        memo = self._memo.get(id(plans))
        if memo is None or memo[0] is not plans or memo[1] is not rules:
            memo = self._memo[id(plans)] = (plans, rules, self._steps(plans, rules))
        return memo[2]

    def _steps(
        self, plans: Mapping[str, CollectionPlan], rules: Rules
    ) -> tuple[tuple[_Deciding, ...], ...]:
        out: list[tuple[_Deciding, ...]] = []
        for level in self.levels:
            step: list[_Deciding] = []
            for name in level:
                plan = plans[name]
                into = tuple(
                    (link.child.collection, link.child.field, link.parent.field, reason)
                    for link, reason in self.into.get(name, ())
                )
                step.append(
                    _Deciding(
                        name,
                        plan,
                        plan.deletes_rows,
                        plan.replacements(rules),
                        bool(plan.kept_whatever_the_values),
                        into if plan.wants_delete else (),
                    )
                )
            out.append(tuple(step))
        return tuple(out)


def whole_collections(
    collections: Iterable[str], links: Iterable[Link], erase_after: Iterable[tuple[str, str]]
) -> WholeCollections | None:
    """The order of :func:`collection_levels`, with the links into each collection;
    ``None`` when rows must be ordered one by one."""
    listed = list(links)
    levels = collection_levels(collections, listed, erase_after)
    if levels is None:
        return None
    into: dict[str, list[tuple[Link, str]]] = {}
    for link in listed:
        into.setdefault(link.parent.collection, []).append((link, f"referenced by {link.child}"))
    return WholeCollections(levels, {name: tuple(found) for name, found in into.items()})


_UNCHANGED: Mapping[str, object] = {}


def _any_shared(name: str, keys: Iterable[Hashable], outside: Mapping[RowId, str]) -> bool:
    return bool(outside) and any((name, key) in outside for key in keys)


def _pins(
    found: Sequence[Mapping[str, object]],
    into: Iterable[tuple[str, str, str, str]],
    rows: Mapping[str, Sequence[Mapping[str, object]]],
    stays: Mapping[str, Sequence[Mapping[str, object] | None]],
) -> dict[int, str]:
    """The rows of ``found`` (by position) that a child row that stays points at, each
    with the reason of the first link (in the dataset's order) through which one does.
    ``into``: the links into ``found``'s collection (see ``_Deciding``); ``stays`` holds
    the collections some of whose rows stay."""
    pins: dict[int, str] = {}
    for child, field_name, parent_field, reason in into:
        made = stays.get(child)
        if made is None:  # no row of the child collection stays
            continue
        held: set[Hashable] = set()
        for row, change in zip(rows[child], made, strict=True):
            if _still_points(change, field_name):
                value = row.get(field_name)
                if value is not None and hashable(value):
                    held.add(value)
        if not held:
            continue
        for at, row in enumerate(found):
            if at not in pins:
                value = row.get(parent_field)
                if value is not None and hashable(value) and value in held:
                    pins[at] = reason
    return pins


def _still_points(change: Mapping[str, object] | None, field_name: str) -> bool:
    """A row that stays (``change``: its new values) and whose ``field_name`` is not set to
    NULL."""
    return change is not None and not (field_name in change and change[field_name] is None)


def _shared_reason(shared: str) -> str:
    return f"shared with other subjects ({shared})"


def _shared(row_id: RowId, shared: str) -> Decision:
    return Decision(row_id, False, {}, _shared_reason(shared))


def _decision(
    plan: CollectionPlan,
    row_id: RowId,
    row: Mapping[str, object],
    pin: str | None,
    rules: Rules,
) -> Decision:
    """Delete the row unless ``pin`` keeps it; otherwise change what the plan changes."""
    delete = plan.deletes_rows and pin is None
    change = {} if delete else changes(plan, row, rules, fallback=True)
    return Decision(row_id, delete, change, pin if plan.wants_delete else None)


def collection_levels(
    collections: Iterable[str], links: Iterable[Link], erase_after: Iterable[tuple[str, str]]
) -> tuple[tuple[str, ...], ...] | None:
    """Collections children first, when no collection's rows can point at rows of its own
    collection, directly or round a cycle; ``None`` when some can (rows are then ordered
    one by one)."""
    pairs = [(link.child.collection, link.parent.collection) for link in links]
    pairs += list(erase_after)
    if any(first == then for first, then in pairs):
        return None
    ordering = children_first(collections, pairs)
    return None if ordering.cycles else ordering.levels


def _label(link: RowLink) -> str:
    return f"referenced by {link.child[0]}.{link.field}"


def _holds(decided: Mapping[RowId, Decision], link: RowLink) -> bool:
    """The child keeps pointing at its parent (an undecided child, on a cycle, does)."""
    decision = decided.get(link.child)
    return decision is None or _keeps_link(decision, link.field)


def _keeps_link(decision: Decision, field: str) -> bool:
    """The row stays and its ``field`` is not set to NULL."""
    if decision.delete:
        return False
    return not (field in decision.changes and decision.changes[field] is None)


_BARRIER = object()


def _barriers(
    rows: Iterable[RowId],
    erase_after: Iterable[tuple[str, str]],
    pairs: list[tuple[RowId, RowId]],
) -> set[RowId]:
    """One node per ``(first, then)``: every row of first before it, it before those of then."""
    by_collection: dict[str, list[RowId]] = {}
    for row_id in rows:
        by_collection.setdefault(row_id[0], []).append(row_id)
    barriers: set[RowId] = set()
    for first, then in erase_after:
        barrier: RowId = (f"{first}>{then}", _BARRIER)
        barriers.add(barrier)
        pairs.extend((row_id, barrier) for row_id in by_collection.get(first, ()))
        pairs.extend((barrier, row_id) for row_id in by_collection.get(then, ()))
    return barriers
