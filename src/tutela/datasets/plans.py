"""From a dataset and its declared erasure settings to the erasure plan of each collection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from tutela.datasets.graph import PrimaryKeys, build_graph
from tutela.datasets.models import Collection, Dataset, DatasetField
from tutela.declarations.models import Erasure
from tutela.domain.erasure import (
    DATA_TYPE_KINDS,
    DEFAULT_STRATEGIES,
    CollectionPlan,
    Column,
    Exemption,
    FieldSpec,
    PlanProblem,
    Rules,
    Strategy,
    plan_collection,
)
from tutela.domain.traversal import Graph

#: Live columns per collection, as read from the database.
LiveColumns = Mapping[str, Mapping[str, Column]]


def make_rules(
    erasure: Erasure | None,
    *,
    parents: Mapping[str, str] | None = None,
    hash_key: bytes | None = None,
) -> Rules:
    """Built-in category defaults, overridden by the declared ones."""
    defaults = dict(DEFAULT_STRATEGIES)
    if erasure is not None:
        defaults.update(erasure.categories)
    return Rules(defaults=defaults, parents=dict(parents or {}), hash_key=hash_key)


def declared_column(field: DatasetField) -> Column:
    meta = field.meta
    if meta.is_array:
        return Column(kind="array", length=meta.length)
    kind = DATA_TYPE_KINDS.get(meta.base_type or "", "unknown")
    if field.fields:
        kind = "json"
    return Column(kind=kind, length=meta.length)


def field_specs(
    collection: Collection,
    graph: Graph,
    erasure: Erasure | None,
    primary_keys: PrimaryKeys | None = None,
) -> list[FieldSpec]:
    """One spec per top-level field (nested fields are erased with the field holding them)."""
    referenced: dict[str, list[str]] = {}
    linking: dict[str, list[str]] = {}
    for link in graph.links:
        if link.parent.collection == collection.name:
            referenced.setdefault(_top(link.parent.field), []).append(str(link.child))
        if link.child.collection == collection.name:
            linking.setdefault(_top(link.child.field), []).append(str(link.parent))
    keys = (primary_keys or {}).get(collection.name, frozenset())
    specs = []
    for field in collection.fields:
        specs.append(
            FieldSpec(
                name=field.name,
                categories=tuple(dict.fromkeys(c for _, f in field.walk() for c in f.categories)),
                column=declared_column(field),
                primary_key=bool(field.meta.primary_key) or field.name in keys,
                referenced_by=tuple(referenced.get(field.name, ())),
                links_to=tuple(linking.get(field.name, ())),
                read_only=bool(field.meta.read_only),
                override=_override(erasure, collection.name, field.name),
                exemption=_exemption(erasure, collection.name, field.name),
            )
        )
    return specs


def declared_specs(dataset: Dataset, erasure: Erasure | None) -> dict[str, list[FieldSpec]]:
    """The specs of every active collection as the dataset declares them."""
    graph = build_graph(dataset)
    return {c.name: field_specs(c, graph, erasure) for c in dataset.active_collections}


def plan_dataset(
    dataset: Dataset,
    erasure: Erasure | None,
    rules: Rules,
    *,
    live: LiveColumns | None = None,
    primary_keys: PrimaryKeys | None = None,
) -> dict[str, CollectionPlan]:
    """The plan of every active collection; with ``live`` columns, checked against them."""
    graph = build_graph(dataset, primary_keys)
    plans = {}
    for collection in dataset.active_collections:
        specs = field_specs(collection, graph, erasure, primary_keys)
        if live is not None and collection.name in live:
            specs = with_columns(specs, live[collection.name])
        plans[collection.name] = plan_collection(collection.name, specs, rules)
    return plans


def _top(path: str) -> str:
    return path.split(".", 1)[0]


def _override(erasure: Erasure | None, collection: str, name: str) -> Strategy | None:
    if erasure is None:
        return None
    return erasure.fields.get(f"{collection}.{name}")


def _exemption(erasure: Erasure | None, collection: str, name: str) -> Exemption | None:
    for entry in erasure.keep if erasure else ():
        if f"{collection}.{name}" in entry.fields or f"{collection}.*" in entry.fields:
            return Exemption(entry.reason, entry.until)
    return None


def with_columns(specs: Iterable[FieldSpec], live: Mapping[str, Column]) -> list[FieldSpec]:
    """Specs whose columns are the live ones (the declared length still bounds values)."""
    out = []
    for spec in specs:
        column = live.get(spec.name)
        if column is None:
            out.append(spec)
            continue
        lengths = [n for n in (spec.column.length, column.length) if n is not None]
        out.append(replace(spec, column=replace(column, length=min(lengths, default=None))))
    return out


def column_problems(
    collection: str, specs: Iterable[FieldSpec], live: Mapping[str, Column] | None
) -> list[PlanProblem]:
    """Declared fields the live table lacks, and declared types it contradicts."""
    if live is None:
        return [
            PlanProblem(
                collection,
                "",
                "no such table in the database",
                "create it, or correct the collection name in the dataset",
                "live",
            )
        ]
    problems = []
    for spec in specs:
        if "." in spec.name:
            continue  # nested fields live inside their column
        column = live.get(spec.name)
        if column is None:
            problems.append(
                PlanProblem(
                    collection,
                    spec.name,
                    "no such column in the table",
                    "correct the field name in the dataset, or remove the field",
                    "live",
                )
            )
        elif spec.column.kind not in {"unknown", column.kind} and column.kind != "other":
            problems.append(
                PlanProblem(
                    collection,
                    spec.name,
                    f"declared as {spec.column.kind}, the column holds {column.kind} values",
                    "correct fides_meta.data_type in the dataset",
                    "live",
                )
            )
    return problems
