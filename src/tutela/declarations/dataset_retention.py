"""Checks of a database entry's ``retention``: the collections sweeps cover and their dates.

Each problem is placed at ``datasets[i].retention.<collection>`` of the declaration file:
a collection or field the dataset file lacks, a field that cannot hold a date, a collection
with no personal data, a personal category no retention rule covers (its rows would never be
due), rules counted from an event of the subject where nothing ties a row to its subject,
and ``anonymize`` on a field erasure would hash (a keyed hash is a pseudonym, not anonymous
data). Whether the live column holds dates is checked against the database, when it is
reachable, by ``tutela check`` and before every sweep.
"""

from __future__ import annotations

from collections.abc import Iterator

from tutela.datasets.graph import build_graph
from tutela.datasets.models import Collection, Dataset
from tutela.datasets.plans import field_specs
from tutela.datasets.retention import SUBJECT_EVENTS, covering, subject_path
from tutela.declarations.draft import Draft
from tutela.declarations.models import Dataset as DatasetEntry
from tutela.declarations.models import Purpose
from tutela.declarations.problems import Issue, Loc
from tutela.declarations.taxonomy import did_you_mean
from tutela.domain.erasure import Rules, plan_collection

#: fideslang data types a date can be written as (Fides has no date type: dates are text)
DATE_TYPES = frozenset({"string"})


def retention_settings(
    draft: Draft, loc: Loc, entry: DatasetEntry, datasets: list[Dataset], rules: Rules
) -> Iterator[Issue]:
    if not entry.retention or not datasets:
        return
    with_rules: dict[str, list[Purpose]] = {}
    for _, purpose in draft.purposes:
        if purpose.retention is not None:
            for key in purpose.categories:
                with_rules.setdefault(key, []).append(purpose)
    names = sorted({c.name for d in datasets for c in d.collections})
    for name, setting in entry.retention.items():
        here: Loc = (*loc, "retention", name)
        found = [(d, c) for d in datasets for c in d.collections if c.name == name]
        if not found:
            yield Issue(
                here,
                f"{name}: no such collection in the dataset file",
                did_you_mean(name, names) or f"use one of {', '.join(names)}",
            )
            continue
        for dataset, collection in found:
            yield from _collection(
                here, dataset, collection, setting.dated_by, with_rules, rules, draft, entry
            )


def _collection(
    here: Loc,
    dataset: Dataset,
    collection: Collection,
    dated_by: str,
    with_rules: dict[str, list[Purpose]],
    rules: Rules,
    draft: Draft,
    entry: DatasetEntry,
) -> Iterator[Issue]:
    name = collection.name
    if collection.skipped:
        yield Issue(
            here,
            f"{name}: fides_meta.skip_processing leaves this collection out of requests and sweeps",
            f"remove {name} from retention, or let the collection be processed",
        )
        return
    yield from _dated_by(here, collection, dated_by)
    graph = build_graph(dataset)
    plan = plan_collection(name, field_specs(collection, graph, entry.erasure), rules)
    personal = [f for f in plan.fields if f.personal]
    if not personal:
        yield Issue(
            here,
            f"{name}: no field holds personal data (a user category), so retention has "
            "nothing to delete or anonymize here",
            f"remove {name} from retention",
        )
        return
    parents = {e.key: e.parent for e in draft.taxonomy.categories} if draft.taxonomy else {}
    applicable: list[Purpose] = []
    for field in personal:
        for category in field.categories:
            key = covering(category, with_rules, parents)
            if key is None:
                yield Issue(
                    here,
                    f"{name}.{field.name}: no retention rule covers {category} (no purpose "
                    "with retention lists it or a category above it), so rows of "
                    f"{name} would never be due",
                    f"declare {category} (or a category above it) and list it in a purpose "
                    "with a retention rule",
                )
                continue
            applicable.extend(p for p in with_rules[key] if p not in applicable)
    needing = sorted(
        {p.key for p in applicable if p.retention and p.retention.after in SUBJECT_EVENTS}
    )
    if needing and subject_path(dataset, name) is None:
        first = next(p for p in applicable if p.key == needing[0])
        after = first.retention.after if first.retention else ""
        yield Issue(
            here,
            f"{name}: the rule of {', '.join(needing)} counts from {after}, an event of the "
            f"row's subject, but no identity field in {name} or in a collection its "
            "references lead to identifies the subject; these rows would never be due",
            "mark the field holding the subject's email with fides_meta.identity: email, "
            f"or reference such a collection from {name}",
        )
    anonymizes = any(p.retention and p.retention.then == "anonymize" for p in applicable)
    referenced = any(link.parent.collection == name for link in graph.links)
    if anonymizes or referenced or plan.keeps_rows:
        why = (
            "its rule anonymizes"
            if anonymizes
            else "rows other rows point at are anonymized, not deleted"
            if referenced
            else "rows holding exempt or read-only data are anonymized, not deleted"
        )
        for field in personal:
            if field.strategy == "hash":
                yield Issue(
                    here,
                    f"{name}.{field.name}: a sweep would hash it ({why}), and a keyed hash "
                    "is a pseudonym, not anonymous data",
                    "choose null, redact or generalize for it under erasure",
                )


def _dated_by(here: Loc, collection: Collection, dated_by: str) -> Iterator[Issue]:
    where: Loc = (*here, "dated_by")
    if "." in dated_by:
        yield Issue(
            where,
            f"{dated_by}: a nested field cannot date a row",
            "name a top-level field of the collection holding a date or time",
        )
        return
    field = next((f for f in collection.fields if f.name == dated_by), None)
    if field is None:
        fields = [f.name for f in collection.fields]
        yield Issue(
            where,
            f"{dated_by}: no such field in collection {collection.name}",
            did_you_mean(dated_by, fields) or f"use one of {', '.join(fields)}",
        )
        return
    declared = field.meta.data_type
    if field.fields or (
        declared is not None and (field.meta.is_array or declared not in DATE_TYPES)
    ):
        kind = "an object" if field.fields else declared
        yield Issue(
            where,
            f"{collection.name}.{dated_by}: declared as {kind} in the dataset; a row's date "
            "must be a date or time",
            "name a field holding the date or time the row was collected",
        )
