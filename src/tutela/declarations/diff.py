"""Every change between two versions of the declarations, each marked material or editorial.

A *material* change is one the data subjects must be told about before it takes effect
(and, for consent-based purposes, may need fresh consent): more data, new uses, new
recipients or countries, longer retention, a different legal basis, a different controller
or contact, or a different way of exercising rights. Everything else is *editorial*: wording,
links, the organization's own data stores, and changes that only reduce processing (a purpose
or category removed, shorter retention, anonymized data now deleted). Editorial changes are
listed all the same.

Lists whose order carries no meaning (purposes, categories, recipients, countries …) are
compared as sets keyed by their key or name, so reordering them is no change. The order of
``languages`` only matters for its first entry, the default language.

Decisions worth knowing:

* retention ``then`` going from ``anonymize`` to ``delete`` is editorial (less is kept);
  from ``delete`` to ``anonymize`` is material, since a derived record now outlives the
  period and the notice must say so;
* a category that stops being sensitive, stops being pseudonymous or changes controller is
  material (its protection or its responsible party changes); one that becomes sensitive
  is material as the issue demands (the notice must state sensitive data);
* a retention period written differently with the same length (``P12M`` and ``P1Y``) is an
  editorial change; lengths are compared by adding both to the same fixed date;
* the minimum age lowered or removed is material; raised or newly set is editorial;
* taxonomy extensions, tenants, datasets and the ``policy`` block are editorial: they do not
  change what subjects are told, and the use of a new extension key is judged where it is
  used (a category or purpose).

Pure: works on two :class:`~tutela.declarations.models.Declarations`, does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from tutela.declarations.durations import parse_duration
from tutela.declarations.models import (
    Category,
    Cookie,
    Dataset,
    Declarations,
    Purpose,
    Recipient,
    Retention,
    Tenant,
)

ChangeKind = Literal["added", "removed", "changed"]

#: The date retention periods are added to when their lengths are compared.
_REFERENCE = datetime(2000, 1, 1)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Change:
    """One difference between the old and the new declarations."""

    path: str
    kind: ChangeKind
    old: Any
    new: Any
    material: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "material": self.material,
            "reason": self.reason,
        }


def diff_declarations(old: Declarations, new: Declarations) -> list[Change]:
    """Every change from ``old`` to ``new``, in the order of the declaration file."""
    changes: list[Change] = []
    for section in _SECTIONS:
        changes.extend(section(old, new))
    return changes


def is_material(changes: Iterable[Change]) -> bool:
    """True if any of the changes must be announced to the data subjects."""
    return any(change.material for change in changes)


# --- helpers ---------------------------------------------------------------------------


def _value(item: Any) -> Any:
    """A JSON-friendly form of a declared value."""
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_defaults=True)
    if isinstance(item, tuple):
        return [_value(x) for x in item]
    return item


def _changed(path: str, old: Any, new: Any, material: bool, reason: str) -> Change:
    return Change(path, "changed", _value(old), _value(new), material, reason)


def _added(path: str, new: Any, material: bool, reason: str) -> Change:
    return Change(path, "added", None, _value(new), material, reason)


def _removed(path: str, old: Any, material: bool, reason: str) -> Change:
    return Change(path, "removed", _value(old), None, material, reason)


def _set_diff(
    path: str,
    old: Iterable[str],
    new: Iterable[str],
    added: tuple[bool, str],
    removed: tuple[bool, str],
) -> Iterator[Change]:
    """Members added to and removed from a list compared as a set."""
    old_set, new_set = list(dict.fromkeys(old)), list(dict.fromkeys(new))
    for item in new_set:
        if item not in old_set:
            yield _added(f"{path}[{item}]", item, *added)
    for item in old_set:
        if item not in new_set:
            yield _removed(f"{path}[{item}]", item, *removed)


def _keyed(
    path: str,
    old: Iterable[M],
    new: Iterable[M],
    key: Callable[[M], str],
    added: Callable[[M], tuple[bool, str]],
    removed: Callable[[M], tuple[bool, str]],
    compare: Callable[[str, M, M], Iterator[Change]],
) -> Iterator[Change]:
    """Entries added, removed and changed in a list keyed by ``key``; order is ignored."""
    old_map: Mapping[str, M] = {key(item): item for item in old}
    new_map: Mapping[str, M] = {key(item): item for item in new}
    for name, item in new_map.items():
        here = f"{path}[{name}]"
        if name not in old_map:
            yield _added(here, item, *added(item))
        elif old_map[name] != item:
            yield from compare(here, old_map[name], item)
    for name, item in old_map.items():
        if name not in new_map:
            yield _removed(f"{path}[{name}]", item, *removed(item))


def _fields(
    path: str, old: BaseModel, new: BaseModel, rules: Mapping[str, tuple[bool, str]]
) -> Iterator[Change]:
    """Changed fields judged by a fixed rule each; fields without a rule are editorial."""
    for name in type(old).model_fields:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            material, reason = rules.get(name, (False, _WORDING))
            yield _changed(f"{path}.{name}", before, after, material, reason)


def _end(iso: str) -> datetime:
    """The end of a period of this length that starts on a fixed reference date."""
    return parse_duration(iso).add_to(_REFERENCE)


def _length(path: str, old: str, new: str, longer: str, shorter: str) -> Iterator[Change]:
    """A duration that changed, judged by its length (longer is material)."""
    if old == new:
        return
    before, after = _end(old), _end(new)
    if after > before:
        yield _changed(path, old, new, True, longer)
    elif after < before:
        yield _changed(path, old, new, False, shorter)
    else:
        yield _changed(path, old, new, False, "the same length written differently")


_WORDING = "wording or presentation only; what is processed does not change"


# --- sections --------------------------------------------------------------------------


_ORGANIZATION_RULES = {
    "name": (True, "a different controller is responsible for the data"),
    "contact": (True, "subjects reach the controller at a different address"),
    "country": (True, "the controller is established in a different country"),
    "dpo": (True, "the data protection officer or how to reach them changes"),
    "address": (True, "the controller's postal address changes"),
    "website": (False, "a link only; who is responsible and how to reach them stay the same"),
}


def _organization(old: Declarations, new: Declarations) -> Iterator[Change]:
    yield from _fields("organization", old.organization, new.organization, _ORGANIZATION_RULES)


def _rights(old: Declarations, new: Declarations) -> Iterator[Change]:
    yield from _set_diff(
        "jurisdictions",
        old.jurisdictions,
        new.jurisdictions,
        (True, "another law applies: the rights subjects have and how they exercise them change"),
        (True, "a law no longer applies: the rights subjects have change"),
    )
    yield from _set_diff(
        "languages",
        old.languages,
        new.languages,
        (True, "subjects can read the notice and exercise rights in another language"),
        (True, "subjects can no longer read the notice or exercise rights in this language"),
    )
    if (
        old.default_language != new.default_language
        and new.default_language in old.languages
        and old.default_language in new.languages
    ):
        yield _changed(
            "languages[0]",
            old.default_language,
            new.default_language,
            True,
            "the default language of notices and messages changes",
        )
    if old.minimum_age != new.minimum_age:
        lowered = new.minimum_age is None or (
            old.minimum_age is not None and new.minimum_age < old.minimum_age
        )
        yield _changed(
            "minimum_age",
            old.minimum_age,
            new.minimum_age,
            lowered,
            "younger subjects may consent without a guardian"
            if lowered
            else "more subjects need a guardian's consent; protection only grows",
        )


def _storage(old: Declarations, new: Declarations) -> Iterator[Change]:
    if old.storage.region != new.storage.region:
        yield _changed(
            "storage.region",
            old.storage.region,
            new.storage.region,
            True,
            "data is stored in a different region (a transfer)",
        )
    yield from _set_diff(
        "storage.countries",
        old.storage.countries,
        new.storage.countries,
        (True, "data is stored in a new country (a transfer)"),
        (False, "data is no longer stored in this country; processing only shrinks"),
    )


def _taxonomy(old: Declarations, new: Declarations) -> Iterator[Change]:
    if old.taxonomy != new.taxonomy:
        yield _changed(
            "taxonomy",
            old.taxonomy,
            new.taxonomy,
            False,
            "vocabulary only; the use of a new key is judged where categories and purposes use it",
        )


def _tenancy(old: Declarations, new: Declarations) -> Iterator[Change]:
    if old.tenancy.multi_tenant != new.tenancy.multi_tenant:
        yield _changed(
            "tenancy.multi_tenant",
            old.tenancy.multi_tenant,
            new.tenancy.multi_tenant,
            True,
            "enterprise customers become (or stop being) controllers of their users' data",
        )
    if old.tenancy.default_tenant != new.tenancy.default_tenant:
        yield _changed(
            "tenancy.default_tenant",
            old.tenancy.default_tenant,
            new.tenancy.default_tenant,
            False,
            "an internal identifier; nothing subjects are told changes",
        )
    yield from _keyed(
        "tenants",
        old.tenants,
        new.tenants,
        lambda t: t.id,
        lambda _: (False, _SETUP),
        lambda _: (False, _SETUP),
        _tenant,
    )


_SETUP = "set-up of an enterprise customer; not part of the notice"


def _tenant(path: str, old: Tenant, new: Tenant) -> Iterator[Change]:
    yield from _fields(path, old, new, dict.fromkeys(Tenant.model_fields, (False, _SETUP)))


# -- categories --


def _categories(old: Declarations, new: Declarations) -> Iterator[Change]:
    yield from _keyed(
        "categories",
        old.categories,
        new.categories,
        lambda c: c.key,
        lambda c: (
            True,
            "a new sensitive data category is collected; it needs notice and explicit consent"
            if c.sensitive
            else "a new data category is collected; it needs notice",
        ),
        lambda _: (False, "a data category is no longer collected; processing only shrinks"),
        _category,
    )


def _flag(
    path: str, old: bool, new: bool, on: tuple[bool, str], off: tuple[bool, str]
) -> Iterator[Change]:
    if old != new:
        yield _changed(path, old, new, *(on if new else off))


def _category(path: str, old: Category, new: Category) -> Iterator[Change]:
    yield from _flag(
        f"{path}.sensitive",
        old.sensitive,
        new.sensitive,
        (True, "the category becomes sensitive; the notice must say so"),
        (True, "the category is no longer treated as sensitive: weaker protection"),
    )
    yield from _flag(
        f"{path}.separate_consent",
        old.separate_consent,
        new.separate_consent,
        (True, "the category now needs its own explicit consent"),
        (True, "the category's own explicit consent is no longer asked"),
    )
    yield from _flag(
        f"{path}.pseudonymous",
        old.pseudonymous,
        new.pseudonymous,
        (False, "the category is now kept apart from identity data; protection only grows"),
        (True, "the category may now be combined with identity data"),
    )
    if old.controller != new.controller:
        yield _changed(
            f"{path}.controller",
            old.controller,
            new.controller,
            True,
            "a different party is controller of this data",
        )
    if old.identity != new.identity:
        yield _changed(
            f"{path}.identity",
            old.identity,
            new.identity,
            False,
            "how Tutela looks subjects up; what is processed does not change",
        )
    if old.storage != new.storage:
        yield _changed(
            f"{path}.storage",
            old.storage,
            new.storage,
            False,
            "a technical protection measure; what is processed does not change",
        )
    if old.description != new.description:
        yield _changed(f"{path}.description", old.description, new.description, False, _WORDING)


# -- purposes --


def _purposes(old: Declarations, new: Declarations) -> Iterator[Change]:
    yield from _keyed(
        "purposes",
        old.purposes,
        new.purposes,
        lambda p: p.key,
        lambda _: (True, "a new purpose needs notice (and consent where consent-based)"),
        lambda _: (False, "a purpose is dropped; processing only shrinks"),
        _purpose,
    )


def _purpose(path: str, old: Purpose, new: Purpose) -> Iterator[Change]:
    if old.use != new.use:
        yield _changed(f"{path}.use", old.use, new.use, True, "the data is put to a different use")
    if old.legal_basis != new.legal_basis:
        yield _changed(
            f"{path}.legal_basis",
            old.legal_basis,
            new.legal_basis,
            True,
            "the processing rests on a different legal basis",
        )
    yield from _set_diff(
        f"{path}.categories",
        old.categories,
        new.categories,
        (True, "the purpose processes a new data category"),
        (False, "the purpose no longer processes this category; processing only shrinks"),
    )
    yield from _set_diff(
        f"{path}.subjects",
        old.subjects,
        new.subjects,
        (True, "the purpose processes data of a new group of people"),
        (False, "a group of people is no longer named; processing only shrinks"),
    )
    yield from _retention(f"{path}.retention", old.retention, new.retention)
    if old.description != new.description:
        yield _changed(f"{path}.description", old.description, new.description, False, _WORDING)


def _retention(path: str, old: Retention | None, new: Retention | None) -> Iterator[Change]:
    if old == new:
        return
    if old is None:
        yield _added(path, new, False, "a retention limit is set where none was; data lives less")
        return
    if new is None:
        yield _removed(path, old, True, "no retention limit is declared any more")
        return
    yield from _length(
        f"{path}.keep",
        old.keep,
        new.keep,
        "longer retention: data is kept longer than subjects were told",
        "shorter retention; processing only shrinks",
    )
    if old.after != new.after:
        yield _changed(
            f"{path}.after",
            old.after,
            new.after,
            True,
            "the retention period counts from a different event",
        )
    if old.then != new.then:
        to_anonymize = new.then == "anonymize"
        yield _changed(
            f"{path}.then",
            old.then,
            new.then,
            to_anonymize,
            "an anonymized record now outlives the retention period"
            if to_anonymize
            else "data is deleted instead of anonymized; less is kept",
        )
    yield from _bounds(f"{path}.tenant_configurable", old, new)


def _bounds(path: str, old: Retention, new: Retention) -> Iterator[Change]:
    before, after = old.tenant_configurable, new.tenant_configurable
    if before == after:
        return
    if after is None:
        yield _removed(path, before, False, "tenants can no longer choose their own period")
        return
    longer = "tenants may keep data longer than subjects were told"
    if before is None:
        lengthens = _end(after.max) > _end(new.keep)
        yield _added(
            path,
            after,
            lengthens,
            longer if lengthens else "tenants may choose a period no longer than the default",
        )
        return
    yield from _length(
        f"{path}.max", before.max, after.max, longer, "tenants' longest choice shrinks"
    )
    if before.min != after.min:
        yield _changed(
            f"{path}.min",
            before.min,
            after.min,
            False,
            "the shortest period a tenant may choose; no longer retention results",
        )


# -- recipients --


def _transfer(country: str, storage: Iterable[str]) -> str:
    countries = tuple(storage)
    if countries and country not in countries:
        return (
            f" in {country}, outside the storage countries ({', '.join(countries)}): "
            "a cross-border transfer"
        )
    return f" in {country}"


def _recipients(old: Declarations, new: Declarations) -> Iterator[Change]:
    storage = new.storage.countries

    def added(r: Recipient) -> tuple[bool, str]:
        kind = {"processor": "processor", "sdk": "SDK"}.get(r.role, "recipient")
        return True, f"a new {kind}{_transfer(r.country, storage)} receives personal data"

    def compare(path: str, before: Recipient, after: Recipient) -> Iterator[Change]:
        yield from _recipient(path, before, after, storage)

    yield from _keyed(
        "recipients",
        old.recipients,
        new.recipients,
        lambda r: r.name,
        added,
        lambda _: (False, "a recipient no longer receives data; disclosure only shrinks"),
        compare,
    )


_RECIPIENT_RULES = {
    "role": (True, "the recipient's role changes (e.g. a processor becomes a controller)"),
    "company": (True, "a different company receives the data"),
    "transfer_safeguard": (True, "the legal safeguard of the transfer changes"),
    "scenario": (False, _WORDING),
    "collection_method": (False, _WORDING),
    "policy_url": (False, "a link only"),
    "description": (False, _WORDING),
    "webhook": (False, "how Tutela tells the recipient about a shutdown; not in the notice"),
    "webhook_secret": (False, "how Tutela signs its notices to the recipient; not in the notice"),
}


def _recipient(
    path: str, old: Recipient, new: Recipient, storage: Iterable[str]
) -> Iterator[Change]:
    if old.country != new.country:
        yield _changed(
            f"{path}.country",
            old.country,
            new.country,
            True,
            f"the data goes to a new country{_transfer(new.country, storage)}",
        )
    yield from _set_diff(
        f"{path}.purposes",
        old.purposes,
        new.purposes,
        (True, "the recipient receives data for another purpose"),
        (False, "the recipient no longer serves this purpose; disclosure only shrinks"),
    )
    yield from _set_diff(
        f"{path}.categories",
        old.categories,
        new.categories,
        (True, "the recipient receives a new data category"),
        (False, "the recipient no longer receives this category; disclosure only shrinks"),
    )
    for name, (material, reason) in _RECIPIENT_RULES.items():
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            yield _changed(f"{path}.{name}", before, after, material, reason)


# -- cookies, datasets, policy --


def _cookies(old: Declarations, new: Declarations) -> Iterator[Change]:
    yield from _keyed(
        "cookies",
        old.cookies,
        new.cookies,
        lambda c: c.name,
        lambda c: (True, f"a new {c.kind.replace('_', ' ')} is set on the subject's device"),
        lambda _: (False, "no longer set on the device; processing only shrinks"),
        _cookie,
    )


def _cookie(path: str, old: Cookie, new: Cookie) -> Iterator[Change]:
    if old.purpose != new.purpose:
        yield _changed(
            f"{path}.purpose", old.purpose, new.purpose, True, "it serves a different purpose"
        )
    if old.party != new.party:
        to_third = new.party == "third"
        yield _changed(
            f"{path}.party",
            old.party,
            new.party,
            to_third,
            "a third party now sets it" if to_third else "the organization now sets it itself",
        )
    if old.expires != new.expires:
        if "session" in (old.expires, new.expires):
            longer = old.expires == "session"
            yield _changed(
                f"{path}.expires",
                old.expires,
                new.expires,
                longer,
                "it now outlives the session" if longer else "it now ends with the session",
            )
        else:
            yield from _length(
                f"{path}.expires",
                old.expires,
                new.expires,
                "it lives longer on the device",
                "it lives shorter on the device",
            )
    for name in ("kind", "description"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            yield _changed(f"{path}.{name}", before, after, False, _WORDING)


_OWN_STORES = "the organization's own data stores; what subjects are told does not change"


def _dataset_key(dataset: Dataset) -> str:
    return dataset.name or dataset.file or ""


def _datasets(old: Declarations, new: Declarations) -> Iterator[Change]:
    def compare(path: str, before: Dataset, after: Dataset) -> Iterator[Change]:
        yield _changed(path, before, after, False, _OWN_STORES)

    yield from _keyed(
        "datasets",
        old.datasets,
        new.datasets,
        _dataset_key,
        lambda _: (False, _OWN_STORES),
        lambda _: (False, _OWN_STORES),
        compare,
    )


def _policy(old: Declarations, new: Declarations) -> Iterator[Change]:
    if old.policy != new.policy:
        yield _changed(
            "policy", old.policy, new.policy, False, "version label, date or link of the policy"
        )


_SECTIONS: tuple[Callable[[Declarations, Declarations], Iterator[Change]], ...] = (
    _organization,
    _rights,
    _storage,
    _taxonomy,
    _tenancy,
    _categories,
    _purposes,
    _recipients,
    _cookies,
    _datasets,
    _policy,
)
