"""Checks of one dataset that need more than its shape: names, references, reachability.

Each check yields :class:`~tutela.declarations.problems.Issue` objects located in the
dataset file (``dataset[0].collections[2].fields[1]…``); nothing here raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pydantic import BaseModel

from tutela.datasets.graph import build_graph
from tutela.datasets.models import Collection, Dataset, DatasetField
from tutela.declarations.problems import Issue, Loc
from tutela.declarations.taxonomy import did_you_mean
from tutela.domain.traversal import access_plan


def check_dataset(
    dataset: Dataset,
    loc: Loc,
    everything: Mapping[str, Dataset],
    known_categories: frozenset[str] | None,
    elsewhere: frozenset[str] = frozenset(),
) -> list[Issue]:
    """Every problem of ``dataset`` (at ``loc`` in its file); ``everything`` holds the
    datasets references may point at, ``elsewhere`` the keys of datasets not at hand."""
    issues = list(_misspelt_keys(dataset, loc))
    issues += _duplicates(
        (*loc, "collections"), [c.name for c in dataset.collections], "collection"
    )
    issues += _categories((*loc, "data_categories"), dataset.data_categories, known_categories)
    for c_index, collection in enumerate(dataset.collections):
        here: Loc = (*loc, "collections", c_index)
        issues += _categories(
            (*here, "data_categories"), collection.data_categories, known_categories
        )
        issues += _order_keys(dataset, collection, here)
        issues += _fields(dataset, collection.fields, (*here, "fields"), everything, elsewhere)
        for field, where in _walk(collection.fields, (*here, "fields")):
            issues += _categories(
                (*where, "data_categories"), field.data_categories, known_categories
            )
    if not issues:  # a broken reference or a misspelt identity would only cascade here
        issues += _reachability(dataset, loc, everything)
    return issues


def _walk(fields: Iterable[DatasetField], loc: Loc) -> Iterator[tuple[DatasetField, Loc]]:
    for index, field in enumerate(fields):
        here: Loc = (*loc, index)
        yield field, here
        yield from _walk(field.fields or (), (*here, "fields"))


def _duplicates(loc: Loc, names: list[str], what: str) -> Iterator[Issue]:
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in first:
            yield Issue(
                (*loc, index, "name"),
                f"{name}: {what} declared twice (first at {loc[-1]}[{first[name]}])",
                "merge the two into one",
            )
        first.setdefault(name, index)


def _categories(
    loc: Loc, categories: Iterable[str] | None, known: frozenset[str] | None
) -> Iterator[Issue]:
    if known is None:
        return
    for index, key in enumerate(categories or ()):
        if key not in known:
            fix = did_you_mean(key, known) or (
                "use a fideslang data category such as user.contact.email, or declare it "
                "under taxonomy.categories in the declarations"
            )
            yield Issue((*loc, index), f"{key}: unknown data category", fix)


def _fields(
    dataset: Dataset,
    fields: tuple[DatasetField, ...],
    loc: Loc,
    everything: Mapping[str, Dataset],
    elsewhere: frozenset[str],
) -> Iterator[Issue]:
    yield from _duplicates(loc, [f.name for f in fields], "field")
    for index, field in enumerate(fields):
        here: Loc = (*loc, index)
        meta = field.meta
        if field.fields and meta.data_type not in {None, "object", "object[]"}:
            yield Issue(
                (*here, "fides_meta", "data_type"),
                f"{meta.data_type}: a field with nested fields holds an object",
                "set data_type: object, or remove it",
            )
        for r_index, reference in enumerate(meta.references or ()):
            where: Loc = (*here, "fides_meta", "references", r_index)
            yield from _reference(
                dataset, reference.dataset, reference.field, where, everything, elsewhere
            )
        if field.fields:
            yield from _fields(dataset, field.fields, (*here, "fields"), everything, elsewhere)


def _reference(
    dataset: Dataset,
    key: str,
    target: str,
    loc: Loc,
    everything: Mapping[str, Dataset],
    elsewhere: frozenset[str],
) -> Iterator[Issue]:
    if key in elsewhere:
        return
    other = everything.get(key)
    if other is None:
        yield Issue(
            (*loc, "dataset"),
            f"{key}: no dataset with this fides_key",
            did_you_mean(key, everything)
            or f"use {dataset.fides_key} for this dataset, or "
            "list the other dataset's file in the declarations",
        )
        return
    name, _, path = target.partition(".")
    collection = other.collection(name)
    if collection is None:
        names = [c.name for c in other.collections]
        yield Issue(
            (*loc, "field"),
            f"{target}: no collection {name} in dataset {key}",
            did_you_mean(name, names) or f"use one of {', '.join(names)}",
        )
    elif collection.field(path) is None:
        yield Issue(
            (*loc, "field"),
            f"{target}: no field {path} in collection {name}",
            did_you_mean(path, collection.paths) or f"use one of {', '.join(collection.paths)}",
        )


def _order_keys(dataset: Dataset, collection: Collection, loc: Loc) -> Iterator[Issue]:
    meta = collection.meta
    for key_name, keys in (("after", meta.after), ("erase_after", meta.erase_after)):
        for index, key in enumerate(keys or ()):
            fides_key, _, name = key.partition(".")
            if fides_key == dataset.fides_key and dataset.collection(name) is None:
                yield Issue(
                    (*loc, "fides_meta", key_name, index),
                    f"{key}: no such collection",
                    "write dataset.collection with a collection of this dataset",
                )
            elif not name:
                yield Issue(
                    (*loc, "fides_meta", key_name, index),
                    f"{key}: not a dataset.collection key",
                    f"write it as {dataset.fides_key}.<collection>",
                )


def _reachability(dataset: Dataset, loc: Loc, everything: Mapping[str, Dataset]) -> Iterator[Issue]:
    graph = build_graph(dataset)
    # Collections linked to another dataset may be reached from it.
    crossing = {
        collection.name
        for collection in dataset.active_collections
        for field in collection.paths.values()
        for reference in field.meta.references or ()
        if reference.dataset != dataset.fides_key
    } | {
        reference.collection
        for other in everything.values()
        if other.fides_key != dataset.fides_key
        for collection in other.collections
        for field in collection.paths.values()
        for reference in field.meta.references or ()
        if reference.dataset == dataset.fides_key
    }
    if not graph.identities and not crossing:
        yield Issue(
            loc,
            f"{dataset.fides_key}: no field has fides_meta.identity, so no data subject "
            "could be found in this dataset",
            "mark the field holding the subject's email with 'fides_meta: {identity: email}'",
        )
        return
    plan = access_plan(graph, graph.identities)
    for name in plan.unreachable:
        if name in crossing:
            continue
        index = next(i for i, c in enumerate(dataset.collections) if c.name == name)
        yield Issue(
            (*loc, "collections", index),
            f"{name}: no identity field and no reference reaches this collection, so "
            "requests would never read or erase it",
            "add a reference from a collection that is reached, mark a field with "
            "fides_meta.identity, or set fides_meta.skip_processing: true",
        )


def _misspelt_keys(model: BaseModel, loc: Loc) -> Iterator[Issue]:
    """Unknown keys are accepted (newer Fides files); one close to a known key is a typo."""
    for key in model.model_extra or {}:
        suggestion = did_you_mean(str(key), type(model).model_fields)
        if suggestion is not None:
            yield Issue((*loc, str(key)), "unknown key", suggestion)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _misspelt_keys(value, (*loc, name))
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _misspelt_keys(item, (*loc, name, index))
