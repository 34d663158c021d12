"""Checks that need more than one value: the taxonomy, references between sections, rules.

Each check yields :class:`Issue` objects (a location, a message, a fix); the loader places
them in the file. Nothing here raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tutela.declarations import codes
from tutela.declarations.draft import Draft
from tutela.declarations.durations import parse_duration
from tutela.declarations.models import Category, Dataset, Purpose
from tutela.declarations.problems import Issue, Loc, format_path
from tutela.declarations.taxonomy import Vocabulary, did_you_mean, fideslang_vocabulary

#: Categories from which an age can be told; an age limit needs one of them.
AGE_CATEGORIES = frozenset({"user.demographic.date_of_birth", "user.demographic.age_range"})

#: Youngest age limit the file format accepts.
MINIMUM_AGE = 13

#: Laws under which data leaving the storage countries needs a safeguard.
TRANSFER_RULES = frozenset({"gdpr", "pipl", "lgpd"})


def retention_coverage(draft: Draft) -> Iterator[Issue]:
    """Categories no retention rule covers (checked once the file is otherwise valid, so a
    mistyped rule is reported as itself, not as missing)."""
    kept_by_rule = {
        key
        for _, purpose in draft.purposes
        if purpose.retention is not None
        for key in purpose.categories
    }
    for index, category in draft.categories:
        key = category.key
        users = sorted(p.key for _, p in draft.purposes if key in p.categories)
        if users and key not in kept_by_rule:
            yield Issue(
                ("categories", index, "key"),
                f"{key}: no retention rule covers this category, so it would be kept forever",
                "add retention (keep, after, then) to a purpose using it: " + ", ".join(users),
            )


def check_draft(draft: Draft, *, base_dir: Path | None = None) -> list[Issue]:
    """Every semantic problem of ``draft``; ``base_dir`` locates dataset files if given."""
    context = _Context(draft, fideslang_vocabulary(), base_dir)
    issues: list[Issue] = []
    for check in _CHECKS:
        issues.extend(check(context))
    return issues


@dataclass
class _Context:
    draft: Draft
    vocabulary: Vocabulary
    base_dir: Path | None

    @cached_property
    def known_categories(self) -> frozenset[str]:
        return self.vocabulary.categories | self.draft.extension_categories

    @cached_property
    def known_uses(self) -> frozenset[str]:
        return self.vocabulary.uses | self.draft.extension_uses

    @cached_property
    def categories(self) -> dict[str, Category]:
        return {category.key: category for _, category in reversed(self.draft.categories)}

    @cached_property
    def purposes(self) -> dict[str, Purpose]:
        return {purpose.key: purpose for _, purpose in reversed(self.draft.purposes)}

    @property
    def multi_tenant(self) -> bool | None:
        """``None`` when the tenancy section is broken (its own problem is reported)."""
        tenancy = self.draft.tenancy
        return None if tenancy is None else tenancy.multi_tenant

    @property
    def prefix(self) -> str | None:
        taxonomy = self.draft.taxonomy
        return None if taxonomy is None else taxonomy.prefix

    def unknown_category(self, loc: Loc, key: str) -> Issue:
        fix = did_you_mean(key, self.draft.declared_categories, self.known_categories)
        if fix is None:
            extend = f"{self.prefix}." if self.prefix else "<prefix>."
            fix = (
                "use a fideslang data category such as user.contact.email, or declare "
                f"{extend}… under taxonomy.categories"
            )
        return Issue(loc, f"{key}: unknown data category", fix)


Check = Callable[[_Context], Iterable[Issue]]


def _duplicates(loc: Loc, items: Iterable[tuple[int, str]], what: str) -> Iterator[Issue]:
    first: dict[str, int] = {}
    for index, value in items:
        if value in first:
            yield Issue(
                (*loc, index),
                f"{value}: {what} declared twice (first at {format_path((*loc, first[value]))})",
                "keep one entry and merge the other into it",
            )
        else:
            first[value] = index


def _check_taxonomy(context: _Context) -> Iterator[Issue]:
    taxonomy = context.draft.taxonomy
    if taxonomy is None:
        return
    prefix = taxonomy.prefix
    if prefix in context.vocabulary.roots:
        yield Issue(
            ("taxonomy", "prefix"),
            f"{prefix}: already a fideslang top-level key",
            "choose a word of your own, such as your company's short name",
        )
    sections = (
        ("categories", taxonomy.categories, context.vocabulary.categories, "data category"),
        ("uses", taxonomy.uses, context.vocabulary.uses, "data use"),
    )
    for section, extensions, base, what in sections:
        loc: Loc = ("taxonomy", section)
        own = frozenset(e.key for e in extensions)
        yield from _duplicates(loc, ((i, e.key) for i, e in enumerate(extensions)), what)
        for index, extension in enumerate(extensions):
            key, parent = extension.key, extension.parent
            if key in base:
                yield Issue(
                    (*loc, index, "key"),
                    f"{key}: already a fideslang {what}",
                    f"remove this extension and use {key} directly",
                )
            elif not key.startswith(f"{prefix}."):
                yield Issue(
                    (*loc, index, "key"),
                    f"{key}: extension keys must start with '{prefix}.'",
                    f"rename it to {prefix}.{key.split('.')[-1]}",
                )
            if parent not in base and parent not in own:
                fix = did_you_mean(parent, base, own) or f"use an existing fideslang {what}"
                yield Issue((*loc, index, "parent"), f"{parent}: unknown {what}", fix)
            elif parent == key:
                yield Issue(
                    (*loc, index, "parent"),
                    f"{key}: an extension cannot be its own parent",
                    f"use the fideslang {what} it refines",
                )


def _check_categories(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    loc: Loc = ("categories",)
    yield from _duplicates(loc, ((i, c.key) for i, c in draft.categories), "category")
    consent_categories = {
        key
        for _, purpose in draft.purposes
        if purpose.legal_basis == "consent"
        for key in purpose.categories
    }
    for index, category in draft.categories:
        here = (*loc, index)
        key = category.key
        if key not in context.known_categories:
            yield context.unknown_category((*here, "key"), key)
        if category.identity and category.storage == "hash":
            yield Issue(
                (*here, "storage"),
                f"{key}: an identity category cannot be hashed (a hash can be verified "
                "but not looked up)",
                "set storage: encrypt, or identity: false",
            )
        if category.identity and category.pseudonymous:
            yield Issue(
                (*here, "pseudonymous"),
                f"{key}: a pseudonymous category cannot identify a data subject",
                "set identity: false, or pseudonymous: false",
            )
        if category.controller == "tenant" and context.multi_tenant is False:
            yield Issue(
                (*here, "controller"),
                f"{key}: tenant-controlled data needs a multi-tenant platform",
                "set tenancy.multi_tenant: true, or controller: platform",
            )
        if category.separate_consent and key not in consent_categories:
            yield Issue(
                (*here, "separate_consent"),
                f"{key}: needs separate consent but no consent-based purpose uses it",
                "list it in a purpose with legal_basis: consent, or set separate_consent: false",
            )
        if key not in draft.used_categories:
            yield Issue(
                (*here, "key"),
                f"{key}: no purpose uses this category",
                "add it to the categories of the purpose it is collected for, or remove it "
                "(data without a purpose must not be collected)",
            )

    if draft.categories and not any(c.identity for _, c in draft.categories):
        yield Issue(
            loc,
            "no category has identity: true, so data subjects could not be found",
            "mark user.contact.email or user.contact.phone_number with identity: true",
        )


def _check_purposes(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    loc: Loc = ("purposes",)
    yield from _duplicates(loc, ((i, p.key) for i, p in draft.purposes), "purpose")
    for index, purpose in draft.purposes:
        here = (*loc, index)
        if purpose.use not in context.known_uses:
            fix = did_you_mean(purpose.use, context.known_uses) or (
                "use a fideslang data use such as essential.service, or declare one under "
                "taxonomy.uses"
            )
            yield Issue((*here, "use"), f"{purpose.use}: unknown data use", fix)
        if purpose.legal_basis == "legitimate_interests" and set(draft.jurisdictions) == {"pipl"}:
            yield Issue(
                (*here, "legal_basis"),
                "legitimate_interests: PIPL has no legitimate-interests basis",
                "use consent, contract or legal_obligation",
            )
        yield from _duplicates((*here, "categories"), enumerate(purpose.categories), "category")
        for position, key in enumerate(purpose.categories):
            if key in draft.declared_categories:
                continue
            where = (*here, "categories", position)
            if key in context.known_categories:
                yield Issue(
                    where,
                    f"{key}: not declared under categories",
                    f"add '- key: {key}' to categories, or remove it here",
                )
            else:
                yield context.unknown_category(where, key)
        yield from _check_separation(context, here, purpose)
        yield from _check_retention(context, (*here, "retention"), purpose)


def _check_separation(context: _Context, here: Loc, purpose: Purpose) -> Iterator[Issue]:
    listed = [context.categories.get(key) for key in purpose.categories]
    pseudonymous = [c.key for c in listed if c is not None and c.pseudonymous]
    identity = [c.key for c in listed if c is not None and c.identity]
    if pseudonymous and identity:
        yield Issue(
            (*here, "categories"),
            f"combines pseudonymous {pseudonymous[0]} with identity {identity[0]}; "
            "pseudonymous data must stay apart from identity data",
            "split this purpose in two, one for the pseudonymous categories",
        )


def _check_retention(context: _Context, here: Loc, purpose: Purpose) -> Iterator[Issue]:
    retention = purpose.retention
    if retention is None or retention.tenant_configurable is None:
        return
    bounds = retention.tenant_configurable
    where = (*here, "tenant_configurable")
    if context.multi_tenant is False:
        yield Issue(
            where,
            "tenant-set retention needs a multi-tenant platform",
            "set tenancy.multi_tenant: true, or remove tenant_configurable",
        )
    listed = [context.categories.get(key) for key in purpose.categories]
    if all(c is not None and c.controller != "tenant" for c in listed):
        yield Issue(
            where,
            "tenants may set the retention, but no category of this purpose is tenant-controlled",
            "mark the categories tenants control with controller: tenant, or remove "
            "tenant_configurable",
        )
    low, high = parse_duration(bounds.min), parse_duration(bounds.max)
    keep = retention.keep_duration
    if low.approx_days() > high.approx_days():
        yield Issue(
            (*where, "min"),
            f"{bounds.min} is longer than max {bounds.max}",
            "swap min and max",
        )
    elif not low.approx_days() <= keep.approx_days() <= high.approx_days():
        yield Issue(
            (*here, "keep"),
            f"{retention.keep}: outside the tenant bounds {bounds.min}..{bounds.max}",
            "make keep, the default for tenants that choose nothing, lie within the bounds",
        )


def _check_recipients(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    loc: Loc = ("recipients",)
    yield from _duplicates(loc, ((i, r.name) for i, r in draft.recipients), "recipient")
    storage = draft.storage
    transfer_rules = sorted(TRANSFER_RULES.intersection(draft.jurisdictions))
    for index, recipient in draft.recipients:
        here = (*loc, index)
        for position, key in enumerate(recipient.purposes):
            if key not in draft.declared_purposes:
                fix = did_you_mean(key, draft.declared_purposes) or (
                    "declare the purpose under purposes, or remove it here"
                )
                yield Issue((*here, "purposes", position), f"{key}: undeclared purpose", fix)
        served = {
            category
            for key in recipient.purposes
            if (purpose := context.purposes.get(key)) is not None
            for category in purpose.categories
        }
        complete = all(key in context.purposes for key in recipient.purposes)
        for position, key in enumerate(recipient.categories):
            where = (*here, "categories", position)
            if key not in draft.declared_categories:
                if key in context.known_categories:
                    yield Issue(
                        where,
                        f"{key}: not declared under categories",
                        f"add '- key: {key}' to categories and to a purpose it serves, "
                        "or remove it here",
                    )
                else:
                    yield context.unknown_category(where, key)
            elif complete and key not in served:
                yield Issue(
                    where,
                    f"{key}: none of this recipient's purposes uses this category",
                    f"add it to one of {', '.join(recipient.purposes)}, or remove it here",
                )
        if (
            storage is not None
            and storage.countries
            and transfer_rules
            and recipient.country not in storage.countries
            and recipient.transfer_safeguard is None
        ):
            yield Issue(
                (*here, "country"),
                f"{recipient.country}: data leaves the storage countries "
                f"({', '.join(storage.countries)}) without a safeguard "
                f"({', '.join(transfer_rules)} require one)",
                "set transfer_safeguard (adequacy, standard_contract, binding_corporate_rules, "
                "certification, consent or derogation)",
            )


def _check_cookies(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    loc: Loc = ("cookies",)
    yield from _duplicates(loc, ((i, c.name) for i, c in draft.cookies), "cookie")
    for index, cookie in draft.cookies:
        if cookie.purpose not in draft.declared_purposes:
            fix = did_you_mean(cookie.purpose, draft.declared_purposes) or (
                "declare the purpose under purposes"
            )
            yield Issue((*loc, index, "purpose"), f"{cookie.purpose}: undeclared purpose", fix)


def _check_tenants(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    loc: Loc = ("tenants",)
    if draft.tenants and context.multi_tenant is False:
        yield Issue(
            loc,
            "tenants are listed but tenancy.multi_tenant is false",
            "set tenancy.multi_tenant: true, or remove the tenants",
        )
    yield from _duplicates(loc, ((i, t.id) for i, t in draft.tenants), "tenant")
    for index, tenant in draft.tenants:
        for key, value in tenant.retention.items():
            where = (*loc, index, "retention", key)
            purpose = context.purposes.get(key)
            if purpose is None:
                if key not in draft.declared_purposes:
                    fix = did_you_mean(key, draft.declared_purposes) or (
                        "use the key of a declared purpose"
                    )
                    yield Issue(where, f"{key}: undeclared purpose", fix)
                continue
            bounds = purpose.retention.tenant_configurable if purpose.retention else None
            if bounds is None:
                yield Issue(
                    where,
                    f"{key}: this purpose does not let tenants set the retention",
                    f"add retention.tenant_configurable to purpose {key}, or remove it here",
                )
                continue
            days = parse_duration(value).approx_days()
            low, high = parse_duration(bounds.min), parse_duration(bounds.max)
            if not low.approx_days() <= days <= high.approx_days():
                yield Issue(
                    where,
                    f"{value}: outside the bounds {bounds.min}..{bounds.max} of purpose {key}",
                    f"choose a period between {bounds.min} and {bounds.max}",
                )


def _check_age(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    age = draft.minimum_age
    if age is None:
        return
    for jurisdiction in draft.jurisdictions:
        required = codes.JURISDICTION_MINIMUM_AGE.get(jurisdiction, 0)
        if MINIMUM_AGE <= age < required:  # below MINIMUM_AGE is reported by the schema
            yield Issue(
                ("minimum_age",),
                f"{age}: {jurisdiction} requires a guardian's consent below {required}",
                f"set minimum_age: {required} or higher",
            )
    age_keys = AGE_CATEGORIES | {
        e.key
        for e in (draft.taxonomy.categories if draft.taxonomy else ())
        if e.parent in AGE_CATEGORIES
    }
    if not age_keys & draft.declared_categories:
        yield Issue(
            ("minimum_age",),
            "an age limit needs a birth date or age range to check it against",
            "declare user.demographic.date_of_birth under categories and list it in the "
            "purpose that registers users",
        )


def _check_lists(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    yield from _duplicates(("languages",), draft.languages, "language")
    yield from _duplicates(("jurisdictions",), enumerate(draft.jurisdictions), "jurisdiction")


#: store names an application endpoint may not take (Tutela's own store in access packages)
RESERVED_STORES = frozenset({"tutela"})


def _check_datasets(context: _Context) -> Iterator[Issue]:
    draft = context.draft
    loc: Loc = ("datasets",)
    files = [(i, d) for i, d in draft.datasets if d.file is not None]
    endpoints = [(i, d) for i, d in draft.datasets if d.http is not None and d.name]
    yield from _duplicates(loc, ((i, d.file or "") for i, d in files), "dataset file")
    yield from _duplicates(loc, ((i, d.name or "") for i, d in endpoints), "store name")
    for index, dataset in endpoints:
        yield from _check_endpoint(context, (*loc, index), dataset)
    if context.base_dir is None:
        return
    for index, dataset in files:
        if not (context.base_dir / (dataset.file or "")).is_file():
            yield Issue(
                (*loc, index, "file"),
                f"{dataset.file}: file not found",
                "correct the path (it is relative to the declaration file) or create the "
                "dataset file in fideslang format",
            )


def _check_endpoint(context: _Context, loc: Loc, dataset: Dataset) -> Iterator[Issue]:
    """An application endpoint: a free store name, declared categories."""
    draft = context.draft
    if dataset.name in RESERVED_STORES:
        yield Issue(
            (*loc, "name"),
            f"{dataset.name}: reserved for Tutela's own data",
            "choose another name, such as the application's, e.g. billing",
        )
    for position, key in enumerate(dataset.categories):
        where = (*loc, "categories", position)
        if key in draft.declared_categories:
            continue
        if key in context.known_categories:
            yield Issue(
                where,
                f"{key}: not declared under categories",
                f"add '- key: {key}' to categories and to a purpose it serves, or remove it here",
            )
        else:
            yield context.unknown_category(where, key)


_CHECKS: tuple[Check, ...] = (
    _check_taxonomy,
    _check_lists,
    _check_age,
    _check_tenants,
    _check_categories,
    _check_purposes,
    _check_recipients,
    _check_cookies,
    _check_datasets,
)
