"""A dataset as a traversal graph: identity fields, value edges and parent/child links."""

from __future__ import annotations

from collections.abc import Mapping

from tutela.datasets.models import Collection, Dataset, DatasetField, Reference
from tutela.domain.traversal import Edge, FieldRef, Graph, Link

#: Primary-key columns per collection, as read from the database.
PrimaryKeys = Mapping[str, frozenset[str]]


def build_graph(dataset: Dataset, primary_keys: PrimaryKeys | None = None) -> Graph:
    """The graph of the dataset's active collections; references to other datasets and to
    skipped collections are left out. ``primary_keys`` adds keys the database declares."""
    active = {c.name: c for c in dataset.active_collections}
    identities: dict[str, list[FieldRef]] = {}
    edges: list[Edge] = []
    links: list[Link] = []
    for collection in active.values():
        for path, field in collection.paths.items():
            here = FieldRef(collection.name, path)
            if field.meta.identity:
                identities.setdefault(field.meta.identity, []).append(here)
            for reference in field.meta.references or ():
                target = _target(dataset, active, reference)
                if target is None:
                    continue
                there = FieldRef(reference.collection, reference.field_path)
                if reference.direction in {None, "to"}:
                    edges.append(Edge(here, there))
                if reference.direction in {None, "from"}:
                    edges.append(Edge(there, here))
                link = _link(here, field, there, target, primary_keys or {})
                if link is not None:
                    links.append(link)
    after = [
        (name, collection.name)
        for collection in active.values()
        for name in _local(dataset, collection.meta.after)
        if name in active
    ]
    return Graph(
        collections=tuple(active),
        identities={name: tuple(refs) for name, refs in identities.items()},
        edges=tuple(dict.fromkeys(edges)),
        links=tuple(dict.fromkeys(links)),
        after=tuple(after),
    )


def erase_after(dataset: Dataset) -> list[tuple[str, str]]:
    """``(first, then)`` pairs from the collections' ``erase_after``."""
    names = {c.name for c in dataset.active_collections}
    return [
        (name, collection.name)
        for collection in dataset.active_collections
        for name in _local(dataset, collection.meta.erase_after)
        if name in names
    ]


def _local(dataset: Dataset, keys: tuple[str, ...] | None) -> list[str]:
    prefix = f"{dataset.fides_key}."
    return [key.removeprefix(prefix) for key in keys or () if key.startswith(prefix)]


def _target(
    dataset: Dataset, active: Mapping[str, Collection], reference: Reference
) -> DatasetField | None:
    if reference.dataset != dataset.fides_key:
        return None
    collection = active.get(reference.collection)
    return None if collection is None else collection.field(reference.field_path)


def is_key(ref: FieldRef, field: DatasetField, primary_keys: PrimaryKeys) -> bool:
    return bool(field.meta.primary_key) or ref.field in primary_keys.get(ref.collection, ())


def _link(
    here: FieldRef,
    here_field: DatasetField,
    there: FieldRef,
    there_field: DatasetField,
    primary_keys: PrimaryKeys,
) -> Link | None:
    """The field holding the other's key is the child; a reference between two fields that
    are neither keys orders nothing."""
    if is_key(there, there_field, primary_keys):
        return Link(child=here, parent=there)
    if is_key(here, here_field, primary_keys):
        return Link(child=there, parent=here)
    return None
