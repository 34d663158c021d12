"""Traversal and ordering, checked against tiny in-memory models built by Hypothesis."""

from __future__ import annotations

import tempfile
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

from tutela.adapters.connectors.sql import SqlConnector
from tutela.datasets.graph import build_graph
from tutela.datasets.models import Dataset
from tutela.domain.traversal import (
    Edge,
    FieldRef,
    Graph,
    access_plan,
    children_first,
    traverse,
)

FIELDS = ("a", "b")
VALUES = st.integers(min_value=0, max_value=3)


@st.composite
def shops(draw: st.DrawFn) -> tuple[Dataset, dict[str, list[dict[str, Any]]]]:
    """A dataset of 1-5 collections with random references, and rows for each."""
    count = draw(st.integers(min_value=1, max_value=5))
    names = [f"c{i}" for i in range(count)]
    identity = draw(st.sets(st.sampled_from(names), min_size=1))
    references: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        source = (draw(st.sampled_from(names)), draw(st.sampled_from(FIELDS)))
        # a reference may point at a primary key (each value selects one row there)
        target = f"{draw(st.sampled_from(names))}.{draw(st.sampled_from((*FIELDS, 'id')))}"
        direction = draw(st.sampled_from(["to", "from", None]))
        reference = {"dataset": "shop", "field": target}
        if direction:
            reference["direction"] = direction
        references.setdefault(source, []).append(reference)
    collections = []
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        fields: list[dict[str, Any]] = [{"name": "id", "fides_meta": {"primary_key": True}}]
        if name in identity:
            fields.append({"name": "email", "fides_meta": {"identity": "email"}})
        for field in FIELDS:
            meta = {"references": references.get((name, field), [])}
            fields.append({"name": field, "fides_meta": meta})
        collections.append({"name": name, "fields": fields})
        rows[name] = [
            {
                "id": i,
                "email": draw(st.sampled_from(["me", "other"])) if name in identity else None,
                **{f: draw(st.none() | VALUES) for f in FIELDS},
            }
            for i in range(draw(st.integers(min_value=0, max_value=5)))
        ]
    dataset = Dataset.model_validate({"fides_key": "shop", "collections": collections})
    return dataset, rows


def connected(dataset: Dataset, rows: Mapping[str, list[dict[str, Any]]]) -> set[tuple[str, int]]:
    """The rows connected to the identity, by the reference semantics written out plainly."""
    flows: list[tuple[str, str, str, str]] = []  # values of (c1.f1) select rows of (c2.f2)
    for collection in dataset.collections:
        for field in collection.fields:
            for ref in field.meta.references or ():
                here = (collection.name, field.name)
                there = (ref.collection, ref.field_path)
                if ref.direction in (None, "to"):
                    flows.append((*here, *there))
                if ref.direction in (None, "from"):
                    flows.append((*there, *here))
    found = {
        (name, row["id"]) for name, table in rows.items() for row in table if row["email"] == "me"
    }
    while True:
        more = {
            (target, row["id"])
            for source, s_field, target, t_field in flows
            for other in rows[source]
            if (source, other["id"]) in found and other[s_field] is not None
            for row in rows[target]
            if row[t_field] == other[s_field]
        }
        if more <= found:
            return found
        found |= more


@settings(max_examples=300, deadline=None)
@given(shops())
def test_traversal_reaches_exactly_the_connected_rows(
    shop: tuple[Dataset, dict[str, list[dict[str, Any]]]],
) -> None:
    dataset, rows = shop
    graph = build_graph(dataset)
    asked: list[tuple[str, str, Hashable]] = []

    def fetch(collection: str, wanted: Mapping[str, frozenset[Hashable]]) -> list[dict[str, Any]]:
        asked.extend((collection, f, v) for f, values in wanted.items() for v in values)
        return [r for r in rows[collection] if any(r[f] in vs for f, vs in wanted.items())]

    reached = traverse(graph, {"email": ["me"]}, fetch, lambda _, row: row["id"])
    got = {(name, key) for name, keys in reached.keys.items() for key in keys}
    assert got == connected(dataset, rows)
    assert len(asked) == len(set(asked)), "a value was asked for twice"
    for name, found in reached.rows.items():
        assert len(found) == len({r["id"] for r in found}), f"duplicate rows in {name}"


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, int]]]:
    count = draw(st.integers(min_value=0, max_value=12))
    nodes = draw(st.permutations(list(range(count))))
    pairs = []
    if count > 1:
        for _ in range(draw(st.integers(min_value=0, max_value=30))):
            a, b = sorted(draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=2)))
            if a != b:
                pairs.append((a, b))  # always low -> high: acyclic
    return list(nodes), pairs


@given(dags())
def test_children_first_respects_every_link(dag: tuple[list[int], list[tuple[int, int]]]) -> None:
    nodes, pairs = dag
    ordering = children_first(nodes, pairs)
    level = {node: i for i, members in enumerate(ordering.levels) for node in members}
    assert sorted(level) == sorted(nodes)
    assert sum(len(members) for members in ordering.levels) == len(nodes)
    assert all(level[child] < level[parent] for child, parent in pairs)
    assert ordering.cycles == ()


def _closure(nodes: list[int], pairs: list[tuple[int, int]]) -> dict[int, set[int]]:
    reach = {n: {b for a, b in pairs if a == n} for n in nodes}
    changed = True
    while changed:
        changed = False
        for n in nodes:
            more = set().union(*(reach[m] for m in reach[n])) - reach[n]
            if more:
                reach[n] |= more
                changed = True
    return reach


@given(
    st.integers(min_value=1, max_value=8).flatmap(
        lambda n: st.tuples(
            st.just(list(range(n))),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20),
        )
    )
)
def test_cycles_share_a_level_and_the_rest_stays_ordered(
    graph: tuple[list[int], list[tuple[int, int]]],
) -> None:
    nodes, pairs = graph
    ordering = children_first(nodes, pairs)
    level = {node: i for i, members in enumerate(ordering.levels) for node in members}
    reach = _closure(nodes, [(a, b) for a, b in pairs if a != b])
    for a, b in pairs:
        if a == b:
            continue
        if a in reach[b]:  # on a cycle together
            assert level[a] == level[b]
            assert any(a in cycle and b in cycle for cycle in ordering.cycles)
        else:
            assert level[a] < level[b]


def test_access_plan_orders_upstream_first_and_reports_unreachable() -> None:
    email = FieldRef("customer", "email")
    graph = Graph(
        collections=("orders", "customer", "product", "audit"),
        identities={"email": (email,)},
        edges=(
            Edge(FieldRef("customer", "id"), FieldRef("orders", "customer_id")),
            Edge(FieldRef("orders", "product_id"), FieldRef("product", "id")),
        ),
    )
    plan = access_plan(graph, ["email"])
    assert plan.order == ("customer", "orders", "product")
    assert plan.unreachable == ("audit",)
    assert access_plan(graph, ["phone_number"]).unreachable == graph.collections


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops())
def test_a_database_connector_reaches_exactly_the_connected_rows(
    shop: tuple[Dataset, dict[str, list[dict[str, Any]]]],
) -> None:
    """The same model, through the SQL connector on SQLite: in one statement when the
    references allow it, step by step when values go round a cycle."""
    dataset, rows = shop
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'shop.db'}"
        engine = create_engine(url)
        metadata = MetaData()
        for collection in dataset.collections:
            Table(
                collection.name,
                metadata,
                Column("id", Integer, primary_key=True),
                Column("email", String),
                *(Column(field, Integer) for field in FIELDS),
            )
        metadata.create_all(engine)
        with engine.begin() as connection:
            for name, table_rows in rows.items():
                if table_rows:
                    connection.execute(metadata.tables[name].insert(), table_rows)
        engine.dispose()
        connector = SqlConnector.from_url(url, dataset)
        try:
            result = connector.access({"email": "me"})
            plan = connector._prepared.graph.access_plan(["email"])
        finally:
            connector.close()
    got = {(name, row["id"]) for name, found in result.found.items() for row in found}
    assert got == connected(dataset, rows)
    for name, found in result.found.items():
        assert len(found) == len({row["id"] for row in found}), f"duplicate rows in {name}"
    one_pass = plan.one_pass is not None
    event("in one statement" if one_pass else "step by step")
    assert one_pass == all(
        plan.rank[e.source.collection] < plan.rank[e.target.collection]
        for e in connector._prepared.graph.edges
        if e.source.collection in plan.rank and e.target.collection in plan.rank
    )
