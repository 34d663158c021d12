"""Retention in the application's own databases: what a sweep asks a store to do.

A dataset entry of the declarations names the collections sweeps cover and the field that
dates each one's rows (``retention: {login: {dated_by: time}}``). A row is due once every
retention rule of its fields' data categories has ended — the category's own rules, or
those of the nearest declared category above it — counted from the row's date
(``collected``) or from an event of the row's subject (found through the collection's
identity fields, or those of the collection its references lead to). The service decides;
a store (:class:`AbstractRetentionStore`) finds the rows and deletes or anonymizes them:

* set-based, when one verdict fits every row dated up to a cutoff (every rule counted from
  ``collected``, or from a tenant-wide purpose ending), with a single statement per batch;
* row by row otherwise, asking the service's ``judge`` for each batch of rows.

A row other rows still point at is never deleted: it is anonymized instead, keeping its
key, as erasure does. While a legal hold on a subject is in force, such rows are left as
they are, since they may be that subject's (an address their order points at).
"""

from __future__ import annotations

import abc
import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tutela.datasets.graph import build_graph
from tutela.datasets.models import Dataset
from tutela.domain.erasure import PlanProblem
from tutela.domain.traversal import Link

#: rules whose start is an event of the row's subject, not of the row
SUBJECT_EVENTS = frozenset({"last_activity", "account_closed", "consent_withdrawn"})

#: Fides identity names and the vault's lookup kinds
IDENTITY_KINDS: Mapping[str, str] = {"email": "email", "phone_number": "phone"}


@dataclass(frozen=True)
class SweptCollection:
    """A collection a sweep covers, as the store sees it."""

    name: str
    dated_by: str
    categories: tuple[str, ...]  # the data categories of its personal fields
    linked: bool  # its rows can be tied to a subject through an identity field


@dataclass(frozen=True)
class Verdict:
    """What happens to a row: ``rule`` ``None`` means it is not due."""

    rule: str | None = None
    then: str = "delete"
    hold: str | None = None  # the legal hold that keeps it (it is due otherwise)


NOT_DUE = Verdict()


@dataclass(frozen=True)
class RowFacts:
    """What the service needs to judge a row: its date and its subject's identities."""

    dated: int | None  # microseconds since the epoch, UTC; None: no readable date
    identities: tuple[tuple[str, str], ...]  # (Fides identity name, value)


Judge = Callable[[Sequence[RowFacts]], list[Verdict]]


@dataclass(frozen=True)
class Due:
    """What to sweep in one collection.

    Rows dated at or before ``cutoff`` may be due (``None``: whatever their date). With a
    ``verdict`` every such row gets it (set-based); otherwise ``judge`` decides each batch.
    ``keep_referenced`` leaves rows that other rows point at as they are.
    """

    collection: str
    cutoff: dt.datetime | None
    verdict: Verdict | None = None
    judge: Judge | None = None
    keep_referenced: bool = False


@dataclass
class Tally:
    """What a sweep did (or, planning, would do) in one collection."""

    deleted: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, then)
    anonymized: Counter[tuple[str, str]] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)  # hold id
    kept: Counter[str] = field(default_factory=Counter)  # why a due row was left as it is

    def add(self, other: Tally) -> None:
        self.deleted.update(other.deleted)
        self.anonymized.update(other.anonymized)
        self.held.update(other.held)
        self.kept.update(other.kept)

    @property
    def rows(self) -> int:
        return sum(self.deleted.values()) + sum(self.anonymized.values())

    def __bool__(self) -> bool:
        return bool(self.deleted or self.anonymized or self.held or self.kept)


#: called with each batch's tally before the store commits the batch
Evidence = Callable[[Tally], None]
Progress = Callable[[int], None]


class AbstractRetentionStore(abc.ABC):
    """The retention side of a connected database (``adapters/connectors/sql_retention.py``)."""

    #: the dataset's ``fides_key``
    name: str

    @abc.abstractmethod
    def collections(self) -> list[SweptCollection]:
        """The collections sweeps cover, children before the parents they point at."""

    @abc.abstractmethod
    def problems(self) -> list[PlanProblem]:
        """What keeps the declared retention from working on the live database."""

    @abc.abstractmethod
    def sweep(
        self,
        due: Due,
        *,
        apply: bool,
        evidence: Evidence | None = None,
        progress: Progress | None = None,
    ) -> Tally:
        """Delete or anonymize the due rows of one collection in batches, one transaction
        each, calling ``evidence`` before each commit; planning (``apply=False``) counts."""


# -- helpers shared by the checks, the service and the store ---------------------------------


def covering(
    category: str, declared: Mapping[str, object], parents: Mapping[str, str]
) -> str | None:
    """The declared key a dataset category falls under: itself, else the nearest declared
    category above it (by dotted prefix, and through taxonomy extensions' parents)."""
    seen = 0
    current: str | None = category
    while current is not None and seen < 64:
        seen += 1
        if current in declared:
            return current
        if current in parents:
            current = parents[current]
        elif "." in current:
            current = current.rsplit(".", 1)[0]
        else:
            current = None
    return None


def subject_path(dataset: Dataset, collection: str) -> list[Link] | None:
    """How a collection's rows reach their subject's identity: ``[]`` when the collection
    has top-level identity fields itself, else the shortest chain of references to a key of
    a collection that has (each link from child to parent), ``None`` when none does."""
    graph = build_graph(dataset)
    holders = {
        ref.collection
        for refs in graph.identities.values()
        for ref in refs
        if "." not in ref.field and ref.field
    }
    if collection in holders:
        return []
    up: dict[str, list[Link]] = {}
    for link in graph.links:
        if "." in link.child.field or "." in link.parent.field:
            continue
        up.setdefault(link.child.collection, []).append(link)
    frontier: list[tuple[str, list[Link]]] = [(collection, [])]
    visited = {collection}
    while frontier:
        following: list[tuple[str, list[Link]]] = []
        for name, path in frontier:
            for link in up.get(name, ()):
                parent = link.parent.collection
                if parent in visited:
                    continue
                chain = [*path, link]
                if parent in holders:
                    return chain
                visited.add(parent)
                following.append((parent, chain))
        frontier = following
    return None


def identity_fields(dataset: Dataset, collection: str) -> list[tuple[str, str]]:
    """``(field, Fides identity name)`` of a collection's top-level identity fields."""
    found = dataset.collection(collection)
    if found is None:
        return []
    return [(f.name, str(f.meta.identity)) for f in found.fields if f.meta.identity]
