"""The facts of a privacy notice: a plain, language-neutral model built from the declarations.

Everything the published notice says comes from here, so the notice can never promise
more (or less) than the declarations Tutela enforces. The facts hold keys, codes and ISO
durations, not words: :mod:`tutela.notices.words` puts them into a language, and
:mod:`tutela.notices.render` lays them out as HTML, Markdown or JSON.

Pure: builds from a :class:`~tutela.declarations.models.Declarations`, does no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from tutela.declarations.models import Declarations, Recipient
from tutela.domain.consent import effective_minimum_age
from tutela.domain.requests import RULES
from tutela.notices.rights import RightFacts, rights_for

#: Path of the privacy center below Tutela's public base URL.
PRIVACY_CENTER_PATH = "/privacy/"

#: Version of the JSON shape of the facts; raised when a key changes meaning or goes away.
FORMAT = "tutela-notice/1"


@dataclass(frozen=True)
class ContactFacts:
    name: str
    email: str


@dataclass(frozen=True)
class OrganizationFacts:
    name: str
    contact: str
    country: str
    address: str | None
    website: str | None
    dpo: ContactFacts | None


@dataclass(frozen=True)
class StorageFacts:
    region: str
    countries: tuple[str, ...]


@dataclass(frozen=True)
class CategoryFacts:
    """A data category; ``name`` is the name the declarations give it (extensions only)."""

    key: str
    name: str | None
    description: str | None
    sensitive: bool
    separate_consent: bool
    pseudonymous: bool
    hashed: bool
    identity: bool
    controller: str
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class RetentionFacts:
    """``keep`` is an ISO 8601 duration counted from the event ``after``."""

    keep: str
    after: str
    then: str
    tenant_min: str | None
    tenant_max: str | None


@dataclass(frozen=True)
class PurposeFacts:
    key: str
    use: str
    legal_basis: str
    description: str | None
    categories: tuple[str, ...]
    retention: RetentionFacts | None
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class RecipientFacts:
    """``transfer`` is true when the recipient's country is not a storage country."""

    name: str
    role: str
    company: str | None
    country: str
    purposes: tuple[str, ...]
    categories: tuple[str, ...]
    scenario: str | None
    collection_method: str | None
    policy_url: str | None
    transfer_safeguard: str | None
    description: str | None
    transfer: bool


@dataclass(frozen=True)
class TransferFacts:
    """Data leaving the storage countries for one country: who receives it, and under what."""

    country: str
    recipients: tuple[str, ...]
    safeguards: tuple[str, ...]


@dataclass(frozen=True)
class CookieFacts:
    """``expires`` is an ISO 8601 duration or ``session``."""

    name: str
    kind: str
    purpose: str
    party: str
    expires: str
    description: str | None
    needs_consent: bool


@dataclass(frozen=True)
class ResponseTimeFacts:
    """How long the organization has to answer a request under one law."""

    jurisdiction: str
    amount: int
    unit: str
    extension: int


@dataclass(frozen=True)
class NoticeFacts:
    """Everything the notice states, in the order it states it."""

    version: str | None
    effective: dt.date | None
    policy_url: str | None
    organization: OrganizationFacts
    jurisdictions: tuple[str, ...]
    languages: tuple[str, ...]
    multi_tenant: bool
    categories: tuple[CategoryFacts, ...]
    purposes: tuple[PurposeFacts, ...]
    recipients: tuple[RecipientFacts, ...]
    storage: StorageFacts
    transfers: tuple[TransferFacts, ...]
    minimum_age: int
    cookies: tuple[CookieFacts, ...]
    security: tuple[str, ...]
    rights: tuple[RightFacts, ...]
    response_times: tuple[ResponseTimeFacts, ...]
    privacy_center_url: str | None

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def category(self, key: str) -> CategoryFacts:
        return next(c for c in self.categories if c.key == key)

    @property
    def sensitive(self) -> tuple[CategoryFacts, ...]:
        return tuple(c for c in self.categories if c.sensitive)

    @property
    def separate_consent(self) -> tuple[CategoryFacts, ...]:
        return tuple(c for c in self.categories if c.separate_consent)

    @property
    def pseudonymous(self) -> tuple[CategoryFacts, ...]:
        return tuple(c for c in self.categories if c.pseudonymous)

    @property
    def tenant_controlled(self) -> tuple[CategoryFacts, ...]:
        return tuple(c for c in self.categories if c.controller == "tenant")

    @property
    def consent_purposes(self) -> tuple[PurposeFacts, ...]:
        return tuple(p for p in self.purposes if p.legal_basis == "consent")

    def as_dict(self) -> dict[str, Any]:
        """The facts as JSON-ready data with stable keys (dates as YYYY-MM-DD)."""
        data = asdict(self)
        data["effective"] = self.effective.isoformat() if self.effective else None
        return {"format": FORMAT, **data}


def privacy_center(base_url: str | None, tenant: str | None = None) -> str | None:
    """The privacy center's address below Tutela's public base URL (a tenant's own center
    when ``tenant`` is given)."""
    if not base_url:
        return None
    center = base_url.rstrip("/") + PRIVACY_CENTER_PATH
    return f"{center}{tenant}/" if tenant else center


def build_facts(
    declarations: Declarations,
    *,
    version: str | None = None,
    effective: dt.date | None = None,
    base_url: str | None = None,
    pipl_response_days: int = RULES["pipl"].amount,
    tenant: str | None = None,
) -> NoticeFacts:
    """The facts of the notice for ``declarations``.

    ``version`` and ``effective`` default to the declarations' ``policy`` block; ``base_url``
    is Tutela's public address, under which the privacy center (``/privacy/``) is linked;
    each right links to the page of the tenant's center that exercises it (``tenant``,
    default the declarations' default tenant).
    """
    policy = declarations.policy
    center = privacy_center(base_url)
    pages = privacy_center(base_url, tenant or declarations.tenancy.default_tenant)
    return NoticeFacts(
        version=version if version is not None else (policy.version if policy else None),
        effective=effective if effective is not None else (policy.effective if policy else None),
        policy_url=policy.url if policy else None,
        organization=_organization(declarations),
        jurisdictions=declarations.jurisdictions,
        languages=declarations.languages,
        multi_tenant=declarations.is_multi_tenant,
        categories=_categories(declarations),
        purposes=_purposes(declarations),
        recipients=tuple(_recipient(r, declarations) for r in declarations.recipients),
        storage=StorageFacts(declarations.storage.region, declarations.storage.countries),
        transfers=_transfers(declarations),
        minimum_age=effective_minimum_age(declarations.jurisdictions, declarations.minimum_age),
        cookies=_cookies(declarations),
        security=_security(declarations),
        rights=rights_for(declarations, pages),
        response_times=_response_times(declarations.jurisdictions, pipl_response_days),
        privacy_center_url=center,
    )


def _organization(declarations: Declarations) -> OrganizationFacts:
    org = declarations.organization
    dpo = ContactFacts(org.dpo.name, str(org.dpo.email)) if org.dpo else None
    return OrganizationFacts(org.name, str(org.contact), org.country, org.address, org.website, dpo)


def _extensions(declarations: Declarations) -> dict[str, tuple[str | None, str]]:
    taxonomy = declarations.taxonomy
    if taxonomy is None:
        return {}
    return {e.key: (e.name, e.description) for e in taxonomy.categories}


def _categories(declarations: Declarations) -> tuple[CategoryFacts, ...]:
    extensions = _extensions(declarations)
    found: list[CategoryFacts] = []
    for category in declarations.categories:
        name, described = extensions.get(category.key, (None, None))
        found.append(
            CategoryFacts(
                key=category.key,
                name=name,
                description=category.description or described,
                sensitive=category.sensitive,
                separate_consent=category.separate_consent,
                pseudonymous=category.pseudonymous,
                hashed=category.storage == "hash",
                identity=category.identity,
                controller=category.controller,
                purposes=tuple(p.key for p in declarations.purposes_using(category.key)),
            )
        )
    return tuple(found)


def _purposes(declarations: Declarations) -> tuple[PurposeFacts, ...]:
    found: list[PurposeFacts] = []
    for purpose in declarations.purposes:
        retention = purpose.retention
        bounds = retention.tenant_configurable if retention else None
        found.append(
            PurposeFacts(
                key=purpose.key,
                use=purpose.use,
                legal_basis=purpose.legal_basis,
                description=purpose.description,
                categories=purpose.categories,
                retention=RetentionFacts(
                    retention.keep,
                    retention.after,
                    retention.then,
                    bounds.min if bounds else None,
                    bounds.max if bounds else None,
                )
                if retention
                else None,
                recipients=tuple(
                    r.name for r in declarations.recipients if purpose.key in r.purposes
                ),
            )
        )
    return tuple(found)


def _is_transfer(recipient: Recipient, declarations: Declarations) -> bool:
    countries = declarations.storage.countries
    return bool(countries) and recipient.country not in countries


def _recipient(recipient: Recipient, declarations: Declarations) -> RecipientFacts:
    return RecipientFacts(
        name=recipient.name,
        role=recipient.role,
        company=recipient.company,
        country=recipient.country,
        purposes=recipient.purposes,
        categories=recipient.categories,
        scenario=recipient.scenario,
        collection_method=recipient.collection_method,
        policy_url=recipient.policy_url,
        transfer_safeguard=recipient.transfer_safeguard,
        description=recipient.description,
        transfer=_is_transfer(recipient, declarations),
    )


def _transfers(declarations: Declarations) -> tuple[TransferFacts, ...]:
    by_country: dict[str, list[Recipient]] = {}
    for recipient in declarations.recipients:
        if _is_transfer(recipient, declarations):
            by_country.setdefault(recipient.country, []).append(recipient)
    return tuple(
        TransferFacts(
            country,
            tuple(r.name for r in recipients),
            tuple(dict.fromkeys(r.transfer_safeguard for r in recipients if r.transfer_safeguard)),
        )
        for country, recipients in by_country.items()
    )


def _cookies(declarations: Declarations) -> tuple[CookieFacts, ...]:
    found: list[CookieFacts] = []
    for cookie in declarations.cookies:
        purpose = declarations.purpose(cookie.purpose)
        found.append(
            CookieFacts(
                name=cookie.name,
                kind=cookie.kind,
                purpose=cookie.purpose,
                party=cookie.party,
                expires=cookie.expires,
                description=cookie.description,
                needs_consent=purpose is not None and purpose.legal_basis == "consent",
            )
        )
    return tuple(found)


#: What Tutela does to protect the data, in the order the notice lists it.
SECURITY_MEASURES = (
    "field_encryption",
    "key_store",
    "crypto_shredding",
    "hashed_secrets",
    "blind_index",
    "pseudonymous_apart",
    "tenant_isolation",
    "access_control",
    "audit_log",
)


def _security(declarations: Declarations) -> tuple[str, ...]:
    applies = {
        "hashed_secrets": any(c.storage == "hash" for c in declarations.categories),
        "blind_index": bool(declarations.identity_categories),
        "pseudonymous_apart": any(c.pseudonymous for c in declarations.categories),
        "tenant_isolation": declarations.is_multi_tenant,
    }
    return tuple(m for m in SECURITY_MEASURES if applies.get(m, True))


def _response_times(
    jurisdictions: tuple[str, ...], pipl_days: int
) -> tuple[ResponseTimeFacts, ...]:
    found: list[ResponseTimeFacts] = []
    for jurisdiction in jurisdictions:
        rule = RULES[jurisdiction]
        amount = pipl_days if jurisdiction == "pipl" else rule.amount
        found.append(ResponseTimeFacts(jurisdiction, amount, rule.unit, rule.extension))
    return tuple(found)


__all__ = [
    "FORMAT",
    "CategoryFacts",
    "ContactFacts",
    "CookieFacts",
    "NoticeFacts",
    "OrganizationFacts",
    "PurposeFacts",
    "RecipientFacts",
    "ResponseTimeFacts",
    "RetentionFacts",
    "RightFacts",
    "StorageFacts",
    "TransferFacts",
    "build_facts",
    "privacy_center",
]
