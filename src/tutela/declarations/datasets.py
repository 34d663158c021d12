"""Checks of the dataset files a declaration file lists, and of their erasure settings.

Problems inside a dataset file are reported at that file's line; problems of the settings
(``datasets[i].erasure``, ``datasets[i].correctable``) at the declaration file's. A strategy
that cannot be applied to a field is reported where it comes from: the per-field override
in the declarations, or the field in the dataset file when a category default chose it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tutela.datasets.graph import build_graph
from tutela.datasets.loading import DatasetSource, check_sources, read_dataset_file
from tutela.datasets.models import Dataset
from tutela.datasets.plans import field_specs, make_rules, plan_dataset
from tutela.declarations.dataset_retention import retention_settings
from tutela.declarations.draft import Draft
from tutela.declarations.models import Dataset as DatasetEntry
from tutela.declarations.problems import Issue, Loc, Problem
from tutela.declarations.taxonomy import did_you_mean, fideslang_vocabulary
from tutela.domain.erasure import PlanProblem

_SETTINGS_FIX = "or choose another strategy for it under erasure in the declarations"


def check_dataset_files(draft: Draft, base_dir: Path | None) -> tuple[list[Issue], list[Problem]]:
    """Issues of the declaration file, and problems placed in the dataset files."""
    if base_dir is None:
        return [], []
    known = fideslang_vocabulary().categories | draft.extension_categories
    parents = {e.key: e.parent for e in draft.taxonomy.categories} if draft.taxonomy else {}
    read: list[tuple[int, DatasetEntry, DatasetSource]] = []
    for index, entry in draft.datasets:
        if entry.file is None:
            continue
        path = base_dir / entry.file
        if path.is_file():
            read.append((index, entry, read_dataset_file(path)))
    check_sources([source for _, _, source in read], known)
    issues: list[Issue] = list(_store_names(draft, read))
    problems: list[Problem] = []
    for index, entry, source in read:
        datasets = [dataset for _, dataset in source.datasets]
        issues.extend(_settings(("datasets", index), entry, datasets, known))
        rules = make_rules(entry.erasure, parents=parents)
        issues.extend(retention_settings(draft, ("datasets", index), entry, datasets, rules))
        for d_index, dataset in source.datasets:
            for plan in plan_dataset(dataset, entry.erasure, rules).values():
                for found in plan.problems:
                    if found.source == "override":
                        loc: Loc = ("datasets", index, "erasure", "fields", _name(found))
                        issues.append(Issue(loc, _message(found), found.fix))
                    else:
                        where = _field_loc(dataset, d_index, found)
                        fix = f"{found.fix}, {_SETTINGS_FIX}"
                        source.add([Issue(where, _message(found), fix)])
        problems.extend(source.problems)
    return issues, problems


def _store_names(
    draft: Draft, read: list[tuple[int, DatasetEntry, DatasetSource]]
) -> Iterator[Issue]:
    """An endpoint's store name must differ from the datasets' fides_key: both name stores."""
    keys = {dataset.fides_key for _, _, source in read for _, dataset in source.datasets}
    for index, entry in draft.datasets:
        if entry.http is not None and entry.name in keys:
            yield Issue(
                ("datasets", index, "name"),
                f"{entry.name}: a dataset file already names a store so",
                "choose another name; store names must be unique across datasets",
            )


def _name(found: PlanProblem) -> str:
    return f"{found.collection}.{found.field}"


def _message(found: PlanProblem) -> str:
    return f"{_name(found)}: {found.message}"


def _field_loc(dataset: Dataset, index: int, found: PlanProblem) -> Loc:
    for c_index, collection in enumerate(dataset.collections):
        if collection.name == found.collection:
            for f_index, field in enumerate(collection.fields):
                if field.name == found.field:
                    return ("dataset", index, "collections", c_index, "fields", f_index)
            return ("dataset", index, "collections", c_index)
    return ("dataset", index)


def _settings(
    loc: Loc, entry: DatasetEntry, datasets: list[Dataset], known: frozenset[str]
) -> Iterator[Issue]:
    """Settings naming fields the dataset lacks, unknown categories, correctable keys."""
    if not datasets:
        return
    fields = {
        f"{collection.name}.{field.name}"
        for dataset in datasets
        for collection in dataset.collections
        for field in collection.fields
    }
    collections = {name.split(".", 1)[0] for name in fields}
    erasure = entry.erasure
    if erasure is not None:
        for key in erasure.categories:
            if key not in known:
                fix = did_you_mean(key, known) or "use a fideslang data category"
                yield Issue(
                    (*loc, "erasure", "categories", key), f"{key}: unknown data category", fix
                )
        for name in erasure.fields:
            yield from _unknown_field((*loc, "erasure", "fields", name), name, fields)
        for e_index, exemption in enumerate(erasure.keep):
            for f_index, name in enumerate(exemption.fields):
                where: Loc = (*loc, "erasure", "keep", e_index, "fields", f_index)
                collection, _, rest = name.partition(".")
                if rest == "*":
                    if collection not in collections:
                        fix = did_you_mean(collection, collections) or "use a collection name"
                        yield Issue(where, f"{collection}: no such collection", fix)
                else:
                    yield from _unknown_field(where, name, fields)
    keys = _keys(datasets)
    for c_index, name in enumerate(entry.correctable):
        where = (*loc, "correctable", c_index)
        if name not in fields:
            yield from _unknown_field(where, name, fields)
        elif name in keys:
            yield Issue(
                where,
                f"{name}: a key or reference cannot be corrected",
                "remove it; correct the fields that hold the subject's data instead",
            )


def _unknown_field(loc: Loc, name: str, fields: set[str]) -> Iterator[Issue]:
    if name not in fields:
        fix = did_you_mean(name, fields) or "write collection.field with a field of the dataset"
        yield Issue(loc, f"{name}: no such field in the dataset file", fix)


def _keys(datasets: list[Dataset]) -> set[str]:
    keys = set()
    for dataset in datasets:
        graph = build_graph(dataset)
        for collection in dataset.active_collections:
            for spec in field_specs(collection, graph, None):
                if spec.primary_key or spec.referenced_by or spec.links_to:
                    keys.add(f"{collection.name}.{spec.name}")
    return keys
