"""Erasure strategies, plans, their problems, and the row decisions (children first)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.domain.erasure import (
    STRATEGIES,
    CollectionPlan,
    Column,
    Exemption,
    FieldSpec,
    Rules,
    Strategy,
    changes,
    keyed_hash,
    placeholder,
    plan_collection,
    value_fits,
)
from tutela.domain.erasure_rows import (
    Outcomes,
    decide,
    decide_collections,
    erasure_fields,
    erasure_graph,
    outcomes,
    whole_collections,
)
from tutela.domain.traversal import Edge, FieldRef, Graph, Link, RowId, RowLink, access_plan

KEY = b"k" * 32


def plan(*specs: FieldSpec, rules: Rules | None = None) -> CollectionPlan:
    return plan_collection("t", specs, rules or Rules(hash_key=KEY))


def only_problem(result: CollectionPlan) -> str:
    assert len(result.problems) == 1, result.problems
    return result.problems[0].message


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (Column("string"), "[erased]"),
        (Column("string", length=8), "[erased]"),
        (Column("string", length=6), "erased"),
        (Column("string", length=2), "-"),
        (Column("integer"), 0),
        (Column("boolean"), False),
        (Column("date"), date(1970, 1, 1)),
        (Column("datetime"), datetime(1970, 1, 1)),
        (Column("unknown"), None),
        (Column("array"), None),
    ],
)
def test_placeholder_fits_type_and_length(column: Column, expected: object) -> None:
    assert placeholder(column) == expected
    if expected is not None:
        assert value_fits(column, expected)


def test_keyed_hash_is_truncated_and_depends_on_the_key() -> None:
    first = keyed_hash("jane@example.com", KEY, 12)
    assert len(first) == 12
    assert first == keyed_hash("jane@example.com", KEY, 12)
    assert first != keyed_hash("jane@example.com", b"x" * 32, 12)
    assert len(keyed_hash("x", KEY, None)) == 64


def test_category_defaults_use_the_longest_prefix_and_the_strictest_category() -> None:
    rules = Rules(defaults={"user": "delete", "user.contact.address": "null"})
    assert rules.strategy_for(["user.contact.address.city"]) == "null"
    assert rules.strategy_for(["user.name"]) == "delete"
    assert rules.strategy_for(["system.operations"]) is None
    assert rules.strategy_for(["user.contact.address.city", "user.name"]) == "delete"
    extended = Rules(defaults={"user.content": "null"}, parents={"acme.chat": "user.content"})
    assert extended.strategy_for(["acme.chat"]) == "null"
    assert extended.personal(["acme.chat"])


def test_generalize_rules() -> None:
    rules = Rules(defaults={"user": "generalize"})

    def gen(categories: tuple[str, ...], column: Column, value: object) -> object:
        result = plan(FieldSpec("f", categories, column), rules=rules)
        assert result.problems == ()
        return changes(result, {"f": value}, rules, fallback=False)["f"]

    assert gen(("user.contact.address.postal_code",), Column("string"), "12345") == "12"
    assert gen(("user.device.ip_address",), Column("string"), "192.0.2.77") == "192.0.2.0"
    assert gen(("user.device.ip_address",), Column("string"), "2001:db8:1:2::5") == "2001:db8:1::"
    assert gen(("user.demographic.date_of_birth",), Column("date"), date(1990, 5, 17)) == date(
        1990, 1, 1
    )
    assert gen(("user.demographic.date_of_birth",), Column("string"), "1990-05-17") == "1990"
    assert gen(("user.demographic.age_range",), Column("integer"), 37) == 30
    assert "no rule" in only_problem(plan(FieldSpec("n", ("user.name",), Column()), rules=rules))


def test_keys_are_never_overwritten() -> None:
    # A category default that is not delete keeps the key; an override is a problem.
    rules = Rules(defaults={"user": "null"}, hash_key=KEY)
    kept = plan(FieldSpec("id", ("user.unique_id",), primary_key=True), rules=rules)
    assert kept.problems == ()
    assert kept.fields[0].strategy is None
    assert kept.fields[0].kept == "primary key"
    for strategy in ("null", "redact", "hash", "generalize"):
        spec = FieldSpec("id", ("user.unique_id",), Column("string"), True, override=strategy)
        assert "keys are never overwritten" in only_problem(plan(spec))
    referenced = FieldSpec("id", (), Column("integer"), referenced_by=("login.customer_id",))
    message = only_problem(plan(FieldSpec(**{**referenced.__dict__, "override": "null"})))
    assert "referenced by login.customer_id" in message


def test_check_time_problems() -> None:
    def problem_of(strategy: Strategy, column: Column, **extra: Any) -> str:
        return only_problem(
            plan(FieldSpec("f", ("user.name",), column, override=strategy, **extra))
        )

    assert "does not accept NULL" in problem_of("null", Column("string", nullable=False))
    assert "holds integer values" in problem_of("hash", Column("integer"))
    assert "needs at least 8" in problem_of("hash", Column("string", length=4))
    assert "no placeholder for array columns" in problem_of("redact", Column("array"))
    assert "another row" in problem_of("hash", Column("integer"), links_to=("customer.id",))
    # What the dataset does not declare cannot be checked yet (the live check does it).
    assert plan(FieldSpec("f", ("user.name",), Column(), override="hash")).problems == ()
    assert plan(FieldSpec("f", ("user.name",), Column(), override="redact")).problems == ()


def test_exempt_and_read_only_fields_keep_the_row() -> None:
    tax = Exemption("invoices are kept for tax law", "10 years")
    result = plan(
        FieldSpec("id", ("system.operations",), Column("integer"), primary_key=True),
        FieldSpec("total", ("user.financial",), Column("integer"), exemption=tax),
        FieldSpec("name", ("user.name",), Column("string")),
    )
    assert result.wants_delete
    assert not result.deletes_rows
    row = {"id": 1, "total": 10, "name": "Jane"}
    assert changes(result, row, Rules(), fallback=True) == {"name": None}
    read_only = plan(FieldSpec("n", ("user.name",), Column("string"), read_only=True))
    assert read_only.keeps_rows


# -- decisions -------------------------------------------------------------------------------

NAMES = ("c0", "c1", "c2")


@st.composite
def erasures(draw: st.DrawFn) -> dict[str, Any]:
    """Collections with an id key, a personal value and links to other collections' ids."""
    targets = {
        name: draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)) for name in NAMES
    }
    plans: dict[str, CollectionPlan] = {}
    for name in NAMES:
        referenced = tuple(f"{o}.to_{name}" for o in NAMES if name in targets[o])
        specs = [
            FieldSpec("id", ("user.unique_id",), Column("integer"), True, referenced),
            FieldSpec(
                "value",
                ("user.name",),
                Column("string"),
                override=draw(st.sampled_from(STRATEGIES)),
                exemption=draw(st.none() | st.just(Exemption("legal hold"))),
            ),
        ]
        specs += [
            FieldSpec(
                f"to_{target}",
                ("user.unique_id",),
                Column("integer"),
                links_to=(f"{target}.id",),
                override=draw(st.sampled_from(["delete", "null", None])),
            )
            for target in targets[name]
        ]
        plans[name] = plan_collection(name, specs, Rules(hash_key=KEY))
    rows: dict[RowId, dict[str, object]] = {}
    counts = {name: draw(st.integers(0, 4)) for name in NAMES}
    for name in NAMES:
        for i in range(counts[name]):
            row: dict[str, object] = {"id": i, "value": f"v{i}"}
            for target in targets[name]:
                row[f"to_{target}"] = draw(st.none() | st.integers(0, max(counts[target] - 1, 0)))
            rows[(name, (i,))] = row
    links = [
        RowLink((name, (i,)), (target, (row[f"to_{target}"],)), f"to_{target}")
        for (name, (i,)), row in rows.items()
        for target in targets[name]
        if row[f"to_{target}"] is not None and (target, (row[f"to_{target}"],)) in rows
    ]
    outside = (
        dict.fromkeys(draw(st.sets(st.sampled_from(sorted(rows)))), "referenced from outside")
        if rows
        else {}
    )
    return {"plans": plans, "rows": rows, "links": links, "outside": outside, "targets": targets}


@settings(max_examples=300, deadline=None)
@given(erasures())
def test_decisions_never_leave_a_dangling_link_nor_touch_a_key(case: dict[str, Any]) -> None:
    plans, rows, links = case["plans"], case["rows"], case["links"]
    steps = decide(plans, rows, links, Rules(hash_key=KEY), outside=case["outside"])
    decisions = {d.row: d for level in steps.levels for d in level}
    level_of = {d.row: i for i, level in enumerate(steps.levels) for d in level}
    assert set(decisions) == set(rows)
    for decision in decisions.values():
        assert "id" not in decision.changes, "a key was overwritten"
        plan_of = plans[decision.row[0]]
        if not decision.delete and plan_of.deletes_rows:
            assert decision.pinned_by, "a row stayed without a reason"
        if decision.row in case["outside"]:
            assert not decision.delete
    cyclic = {r for cycle in steps.cycles for r in cycle}
    for link in links:
        child, parent = decisions[link.child], decisions[link.parent]
        intact = not child.delete and child.changes.get(link.field, "kept") is not None
        if parent.delete:
            assert not intact, f"{link.child} still points at deleted {link.parent}"
            if link.child not in cyclic:
                assert level_of[link.child] < level_of[link.parent]


@settings(max_examples=300, deadline=None)
@given(erasures())
def test_whole_collections_in_order_decide_as_rows_one_by_one(case: dict[str, Any]) -> None:
    plans, rows, links = case["plans"], case["rows"], case["links"]
    schema_links = [
        Link(FieldRef(name, f"to_{target}"), FieldRef(target, "id"))
        for name, targets in case["targets"].items()
        for target in targets
    ]
    order = whole_collections(NAMES, schema_links, [])
    assert (order is None) == _has_cycle(case["targets"])
    if order is None:  # rows of a collection may point at its own: ordered one by one
        return
    rules = Rules(hash_key=KEY)
    by_rows = decide(plans, rows, links, rules, outside=case["outside"])
    per_collection: dict[str, list[dict[str, object]]] = {}
    keys: dict[str, list[Hashable]] = {}
    for (name, key), row in rows.items():
        per_collection.setdefault(name, []).append(row)
        keys.setdefault(name, []).append(key)
    by_collections = decide_collections(
        plans, per_collection, keys, order, rules, outside=case["outside"]
    )
    assert _merged(by_collections) == _merged(outcomes(by_rows, plans, rows))
    assert sum(o.reached for level in by_collections for o in level) == len(rows)
    level_of = {name: i for i, level in enumerate(order.levels) for name in level}
    for link in schema_links:
        assert level_of[link.child.collection] < level_of[link.parent.collection]


def _merged(levels: Outcomes) -> dict[str, tuple[Any, ...]]:
    """Per collection: rows reached, keys deleted, new values by key, what stays kept."""
    out: dict[str, tuple[Any, ...]] = {}
    for level in levels:
        for o in level:
            reached, deleted, changed, kept = out.get(o.collection, (0, set(), {}, Counter()))
            out[o.collection] = (
                reached + o.reached,
                deleted | set(o.deleted),
                changed | dict(o.changed),
                kept + Counter(o.kept),
            )
    return out


def _has_cycle(targets: dict[str, list[str]]) -> bool:
    """Whether following links from some collection leads back to it."""

    def reaches(start: str, goal: str, seen: frozenset[str]) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in targets[start]
        )

    return any(reaches(name, name, frozenset()) for name in targets)


def test_erase_after_orders_whole_collections() -> None:
    plans = {
        name: plan_collection(
            name, [FieldSpec("id", ("user.unique_id",), primary_key=True)], Rules()
        )
        for name in ("first", "then")
    }
    rows: dict[RowId, dict[str, object]] = {
        (name, (i,)): {"id": i} for name in ("then", "first") for i in range(3)
    }
    steps = decide(plans, rows, [], Rules(), erase_after=[("first", "then")])
    order = [d.row[0] for level in steps.levels for d in level]
    assert order == ["first"] * 3 + ["then"] * 3
    assert all(d.delete for level in steps.levels for d in level)


GRAPH_NAMES = ("a", "b", "c", "d", "e")


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Graph, dict[str, CollectionPlan], list[tuple[str, str]]]:
    """Collections with or without personal fields, references between them (each a value
    flow one way or both and, one time in two, a link from child to parent key), identity
    fields on some, and ``erase_after`` pairs."""
    personal = {name: draw(st.booleans()) for name in GRAPH_NAMES}
    plans = {
        name: plan_collection(
            name,
            [
                FieldSpec("id", ("system.operations",), Column("integer"), True),
                FieldSpec("v", ("user.name" if personal[name] else "system.operations",)),
            ],
            Rules(),
        )
        for name in GRAPH_NAMES
    }
    pairs = st.tuples(st.sampled_from(GRAPH_NAMES), st.sampled_from(GRAPH_NAMES))
    edges: list[Edge] = []
    links: list[Link] = []
    for child, parent in draw(st.lists(pairs, max_size=6)):
        here, there = FieldRef(child, f"to_{parent}"), FieldRef(parent, "id")
        direction = draw(st.sampled_from(["to", "from", "both"]))
        if direction in ("to", "both"):
            edges.append(Edge(here, there))
        if direction in ("from", "both"):
            edges.append(Edge(there, here))
        if draw(st.booleans()):
            links.append(Link(here, there))
    entries = draw(st.lists(st.sampled_from(GRAPH_NAMES), min_size=1, max_size=3, unique=True))
    graph = Graph(
        collections=GRAPH_NAMES,
        identities={"email": tuple(FieldRef(name, "email") for name in entries)},
        edges=tuple(dict.fromkeys(edges)),
        links=tuple(dict.fromkeys(links)),
    )
    after = draw(st.lists(pairs.filter(lambda p: p[0] != p[1]), max_size=1))
    return graph, plans, after


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_an_erasure_reads_every_collection_it_may_change_or_that_keeps_something(
    case: tuple[Graph, dict[str, CollectionPlan], list[tuple[str, str]]],
) -> None:
    graph, plans, after = case
    read = erasure_graph(graph, plans, after)
    left_out = set(graph.collections) - set(read.collections)
    for name in left_out:  # nothing personal, points at nothing, ordered with nothing
        assert not any(f.personal for f in plans[name].fields)
        assert not any(link.child.collection == name for link in graph.links)
        assert not any(name in pair for pair in after)
    # every other collection the subject's values reach is still reached
    reached = access_plan(graph, ["email"]).order
    assert access_plan(read, ["email"]).order == tuple(c for c in reached if c not in left_out)
    assert set(read.links) == {
        link for link in graph.links if link.parent.collection not in left_out
    }


def test_decisions_do_not_depend_on_the_rows_of_collections_an_erasure_leaves_out() -> None:
    specs = {
        "customer": [FieldSpec("id", ("user.unique_id",), Column("integer"), True, ("line.to_c",))],
        "line": [
            FieldSpec("id", ("system.operations",), Column("integer"), True),
            FieldSpec("to_c", ("system.operations",), Column("integer"), links_to=("customer.id",)),
            FieldSpec("to_p", ("system.operations",), Column("integer"), links_to=("product.id",)),
        ],
        "product": [
            FieldSpec("id", ("system.operations",), Column("integer"), True, ("line.to_p",))
        ],
    }
    plans = {name: plan_collection(name, s, Rules()) for name, s in specs.items()}
    to_c = Link(FieldRef("line", "to_c"), FieldRef("customer", "id"))
    to_p = Link(FieldRef("line", "to_p"), FieldRef("product", "id"))
    graph = Graph(
        collections=("customer", "line", "product"),
        identities={"email": (FieldRef("customer", "email"),)},
        edges=(
            Edge(FieldRef("customer", "id"), FieldRef("line", "to_c")),
            Edge(FieldRef("line", "to_p"), FieldRef("product", "id")),
        ),
        links=(to_c, to_p),
    )
    read = erasure_graph(graph, plans, [])
    assert read.collections == ("customer", "line")
    assert read.links == (to_c,)
    rows: dict[RowId, dict[str, object]] = {
        ("customer", (1,)): {"id": 1},
        ("line", (7,)): {"id": 7, "to_c": 1, "to_p": 3},
        ("product", (3,)): {"id": 3},
    }
    row_links = [
        RowLink(("line", (7,)), ("customer", (1,)), "to_c"),
        RowLink(("line", (7,)), ("product", (3,)), "to_p"),
    ]
    everything = _merged(outcomes(decide(plans, rows, row_links, Rules()), plans, rows))
    fewer = {k: v for k, v in rows.items() if k[0] != "product"}
    read_only = _merged(outcomes(decide(plans, fewer, row_links[:1], Rules()), plans, fewer))
    assert read_only == {k: v for k, v in everything.items() if k != "product"}
    assert everything["product"][1:3] == (set(), {})  # nothing deleted, nothing changed


def test_an_erasure_reads_the_values_of_rows_that_may_stay_and_only_the_links_of_the_rest() -> None:
    def field(name: str, category: str, **more: Any) -> FieldSpec:
        return FieldSpec(name, (category,), Column("integer"), **more)

    specs = {
        "customer": [
            field("id", "user.unique_id", primary_key=True),
            field("email", "user.contact.email"),
            field("created", "system.operations"),
        ],
        "login": [
            field("id", "system.operations", primary_key=True),
            field("customer_id", "user.unique_id", links_to=("customer.id",)),
            field("time", "user.sensor"),
        ],
        "orders": [
            field("id", "system.operations", primary_key=True),
            field("customer_id", "user.unique_id", links_to=("customer.id",)),
            field("note", "user.name"),
            field("total", "system.operations"),
        ],
        "line": [
            field("order_id", "system.operations", links_to=("orders.id",)),
            field("quantity", "system.operations"),
        ],
    }
    plans = {name: plan_collection(name, s, Rules()) for name, s in specs.items()}

    def ref(text: str) -> FieldRef:
        collection, name = text.split(".")
        return FieldRef(collection, name)

    pairs = [("login.customer_id", "customer.id"), ("orders.customer_id", "customer.id")]
    pairs.append(("line.order_id", "orders.id"))
    graph = Graph(
        collections=tuple(specs),
        identities={"email": (ref("customer.email"),)},
        edges=tuple(Edge(ref(parent), ref(child)) for child, parent in pairs),
        links=tuple(Link(ref(child), ref(parent)) for child, parent in pairs),
    )
    assert erasure_fields(graph, plans) == {
        # rows that stay for the rows pointing at them: their personal values are needed
        "customer": {"id", "email"},
        "orders": {"id", "customer_id", "note"},
        # every login goes (nothing points at one): its link, not its personal values
        "login": {"customer_id"},
        # nothing personal: the link it is reached by
        "line": {"order_id"},
    }
