"""What could be read of a declaration file, even a broken one, for the semantic checks.

When pydantic accepts the whole file the draft is the validated model. When it does not,
each section and each list item is validated on its own, and a value pydantic rejects is
dropped so that the rest of its item can still be checked; keys that are present in the
raw data count as declared even when their item is broken, so that one mistake does not
cause a cascade of "not declared" problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tutela.declarations import codes
from tutela.declarations.models import (
    Category,
    Cookie,
    Dataset,
    Declarations,
    Purpose,
    Recipient,
    Storage,
    Taxonomy,
    Tenancy,
    Tenant,
)

M = TypeVar("M", bound=BaseModel)
Items = list[tuple[int, M]]


@dataclass
class Draft:
    """The parts of a declaration file that passed validation, with their list positions."""

    jurisdictions: tuple[str, ...] = ()
    languages: list[tuple[int, str]] = field(default_factory=list)
    minimum_age: int | None = None
    storage: Storage | None = None
    taxonomy: Taxonomy | None = None
    tenancy: Tenancy | None = None
    tenants: Items[Tenant] = field(default_factory=list)
    categories: Items[Category] = field(default_factory=list)
    purposes: Items[Purpose] = field(default_factory=list)
    recipients: Items[Recipient] = field(default_factory=list)
    cookies: Items[Cookie] = field(default_factory=list)
    datasets: Items[Dataset] = field(default_factory=list)
    #: Keys written in the file, valid or not.
    declared_categories: frozenset[str] = frozenset()
    declared_purposes: frozenset[str] = frozenset()
    extension_categories: frozenset[str] = frozenset()
    extension_uses: frozenset[str] = frozenset()
    #: Category keys some purpose lists, valid or not.
    used_categories: frozenset[str] = frozenset()

    @classmethod
    def from_model(cls, declarations: Declarations) -> Draft:
        taxonomy = declarations.taxonomy
        return cls(
            jurisdictions=declarations.jurisdictions,
            languages=list(enumerate(declarations.languages)),
            minimum_age=declarations.minimum_age,
            storage=declarations.storage,
            taxonomy=taxonomy,
            tenancy=declarations.tenancy,
            tenants=list(enumerate(declarations.tenants)),
            categories=list(enumerate(declarations.categories)),
            purposes=list(enumerate(declarations.purposes)),
            recipients=list(enumerate(declarations.recipients)),
            cookies=list(enumerate(declarations.cookies)),
            datasets=list(enumerate(declarations.datasets)),
            declared_categories=declarations.category_keys,
            declared_purposes=frozenset(p.key for p in declarations.purposes),
            extension_categories=frozenset(e.key for e in taxonomy.categories)
            if taxonomy
            else frozenset(),
            extension_uses=frozenset(e.key for e in taxonomy.uses) if taxonomy else frozenset(),
            used_categories=frozenset(k for p in declarations.purposes for k in p.categories),
        )

    @classmethod
    def salvage(cls, data: Mapping[object, object]) -> Draft:
        raw_taxonomy = data.get("taxonomy")
        raw_taxonomy = raw_taxonomy if isinstance(raw_taxonomy, Mapping) else {}
        tenancy = data.get("tenancy")
        age = data.get("minimum_age")
        return cls(
            jurisdictions=tuple(
                j for j in _list(data.get("jurisdictions")) if j in codes.JURISDICTIONS
            ),
            languages=[
                (i, tag)
                for i, tag in enumerate(_list(data.get("languages")))
                if isinstance(tag, str)
            ],
            minimum_age=age if isinstance(age, int) and not isinstance(age, bool) else None,
            storage=_salvage(Storage, data.get("storage")),
            taxonomy=_salvage(Taxonomy, raw_taxonomy),
            tenancy=Tenancy() if tenancy is None else _salvage(Tenancy, tenancy),
            tenants=_items(Tenant, data.get("tenants")),
            categories=_items(Category, data.get("categories")),
            purposes=_items(Purpose, data.get("purposes")),
            recipients=_items(Recipient, data.get("recipients")),
            cookies=_items(Cookie, data.get("cookies")),
            datasets=_items(Dataset, data.get("datasets")),
            declared_categories=_keys(data.get("categories")),
            declared_purposes=_keys(data.get("purposes")),
            extension_categories=_keys(raw_taxonomy.get("categories")),
            extension_uses=_keys(raw_taxonomy.get("uses")),
            used_categories=frozenset(
                key
                for purpose in _list(data.get("purposes"))
                if isinstance(purpose, Mapping)
                for key in _list(purpose.get("categories"))
                if isinstance(key, str)
            ),
        )


def _list(raw: object) -> list[object]:
    return raw if isinstance(raw, list) else []


def _keys(raw: object) -> frozenset[str]:
    return frozenset(
        item["key"]
        for item in _list(raw)
        if isinstance(item, Mapping) and isinstance(item.get("key"), str)
    )


def _items(model: type[M], raw: object) -> Items[M]:
    items: Items[M] = []
    for index, item in enumerate(_list(raw)):
        salvaged = _salvage(model, item)
        if salvaged is not None:
            items.append((index, salvaged))
    return items


def _salvage(model: type[M], raw: object) -> M | None:
    """Validate ``raw``, dropping the keys pydantic rejects; ``None`` if that is not enough."""
    if not isinstance(raw, Mapping):
        return None
    data = dict(raw)
    while True:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            rejected = {e["loc"][0] for e in error.errors() if e["loc"]} & data.keys()
            if not rejected:
                return None
            for key in rejected:
                del data[key]
