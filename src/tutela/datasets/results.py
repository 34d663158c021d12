"""What a connector returns: rows found, what erasure did and kept, what was corrected."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

#: identity type (``email``, ``phone_number`` …) -> the subject's value(s)
Identities = Mapping[str, str | Iterable[str]]


def identity_values(identities: Identities) -> dict[str, frozenset[str]]:
    """Each identity type with a set of values (a single string counts as one value)."""
    return {
        name: frozenset([values]) if isinstance(values, str) else frozenset(values)
        for name, values in identities.items()
    }


@dataclass(frozen=True, slots=True)
class FoundValue:
    """A value read from a store, with the data categories of its field."""

    value: object
    categories: tuple[str, ...]


FoundRow = Mapping[str, FoundValue]


#: per collection, the fields an access returns, each with its data categories
FieldCategories = Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]


@dataclass(frozen=True)
class AccessResult:
    """Rows connected to the identities, per collection in the order they were queried.

    ``found`` holds the rows as read (they may hold more columns than the dataset
    declares, such as keys); ``fields`` says which of their fields the result shows.
    """

    dataset: str
    found: Mapping[str, Sequence[Mapping[str, object]]]
    fields: FieldCategories
    #: collections no identity field or reference leads to
    unreachable: tuple[str, ...] = ()

    @cached_property
    def collections(self) -> Mapping[str, tuple[FoundRow, ...]]:
        """Each row's declared fields, with their values and data categories."""
        return {
            name: tuple(
                {field: FoundValue(row[field], categories) for field, categories in fields}
                for row in rows
            )
            for name, rows in self.found.items()
            if (fields := self.fields.get(name, ())) is not None
        }

    def rows(self, collection: str) -> tuple[FoundRow, ...]:
        return self.collections.get(collection, ())

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.found.values())

    def as_json(self) -> dict[str, Any]:
        """Plain JSON data: ``{"dataset", "collections": {name: [{field: {"value",
        "categories"}}]}, "unreachable"}``; dates in ISO 8601, bytes in base64."""
        plain = _PLAIN
        return {
            "dataset": self.dataset,
            "collections": {
                name: [
                    {
                        field: {
                            "value": v if type(v := row[field]) in plain else jsonable(v),
                            "categories": list(categories),
                        }
                        for field, categories in self.fields.get(name, ())
                    }
                    for row in rows
                ]
                for name, rows in self.found.items()
            },
            "unreachable": list(self.unreachable),
        }


_PLAIN = frozenset({type(None), bool, int, float, str})


def jsonable(value: object) -> object:
    if type(value) in _PLAIN or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


class Kept(NamedTuple):
    """Personal data an erasure left in place: which field (or ``collection`` for whole
    rows), why, until when, in how many rows. (Named tuples rather than frozen dataclasses:
    as immutable, and an erasure builds about a dozen of them, each in a third of the time.)"""

    field: str
    reason: str
    rows: int
    until: str | None = None


class CollectionErasure(NamedTuple):
    """What an erasure did in one collection."""

    collection: str
    reached: int
    deleted: int
    updated: int
    kept: tuple[Kept, ...] = ()


@dataclass(frozen=True)
class ErasureResult:
    """Per collection, in the order rows were handled: reached, deleted, updated, kept."""

    dataset: str
    collections: tuple[CollectionErasure, ...]

    @property
    def deleted(self) -> int:
        return sum(c.deleted for c in self.collections)

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.collections)

    def collection(self, name: str) -> CollectionErasure | None:
        return next((c for c in self.collections if c.collection == name), None)

    @property
    def kept(self) -> tuple[Kept, ...]:
        return tuple(k for c in self.collections for k in c.kept)


@dataclass(frozen=True)
class RectificationResult:
    """Rows changed per corrected field (``collection.field``); old values are not kept."""

    dataset: str
    updated: Mapping[str, int]
