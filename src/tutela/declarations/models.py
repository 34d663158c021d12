"""The declaration file as pydantic models: what is collected, why, for how long, for whom.

``Declarations.model_validate`` checks the shape and the format of every value; it does not
look at the fideslang taxonomy or at references between sections. Use
:func:`tutela.declarations.parse_declarations` for a file written by a person, and
``model_validate`` for a dump of declarations that were already checked.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tutela.declarations.durations import Duration, parse_duration
from tutela.declarations.types import (
    Connection,
    CountryCode,
    Email,
    Expiry,
    FieldPath,
    IsoDuration,
    Key,
    LanguageTag,
    Prefix,
    SecretRef,
    Slug,
    TaxonomyKey,
    Url,
    invalid,
)

Jurisdiction = Literal["gdpr", "pipl", "ccpa", "lgpd"]
LegalBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]
RetentionStart = Literal[
    "collected", "last_activity", "account_closed", "consent_withdrawn", "purpose_ended"
]
RetentionAction = Literal["delete", "anonymize"]
StorageMode = Literal["encrypt", "hash"]
Controller = Literal["platform", "tenant"]
Correction = Literal["immediate", "review"]
RecipientRole = Literal["processor", "controller", "third_party", "sdk"]
TransferSafeguard = Literal[
    "adequacy",
    "standard_contract",
    "binding_corporate_rules",
    "certification",
    "consent",
    "derogation",
]
CookieKind = Literal["cookie", "token", "local_storage"]
#: fideslang's data-subject taxonomy (the keys of its default ``data_subject`` list)
DataSubject = Literal[
    "anonymous_user",
    "citizen_voter",
    "commuter",
    "consultant",
    "customer",
    "employee",
    "job_applicant",
    "next_of_kin",
    "passenger",
    "patient",
    "prospect",
    "shareholder",
    "supplier_vendor",
    "trainee",
    "visitor",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contact(_Model):
    """A named person and their email address."""

    name: str = Field(
        min_length=1, description="Full name or role, e.g. 'Data Protection Officer'."
    )
    email: Email = Field(description="Email address.")


class Organization(_Model):
    """The controller: the company that publishes the privacy policy."""

    name: str = Field(min_length=1, description="Legal name of the company.")
    contact: Email = Field(description="Address for privacy questions and requests.")
    country: CountryCode = Field(
        description="Country of establishment (ISO 3166-1 alpha-2); also the default region "
        "for phone numbers."
    )
    dpo: Contact | None = Field(default=None, description="Data protection officer, if any.")
    address: str | None = Field(default=None, description="Postal address, one line.")
    website: Url | None = Field(default=None, description="Public website.")


class Storage(_Model):
    """Where personal data is stored."""

    region: str = Field(min_length=1, description="Region of the primary copy, e.g. EU or CN.")
    countries: tuple[CountryCode, ...] = Field(
        default=(), description="Countries where copies are kept, backups included."
    )


class Extension(_Model):
    """A data category or data use added to the fideslang taxonomy."""

    key: TaxonomyKey = Field(description="New key; must start with the taxonomy prefix.")
    parent: TaxonomyKey = Field(
        description="Existing fideslang key (or earlier extension) this one refines."
    )
    name: str | None = Field(default=None, description="Human-readable name.")
    description: str = Field(min_length=1, description="What the key covers.")


class Taxonomy(_Model):
    """Extensions of the fideslang taxonomy, all under one prefix."""

    prefix: Prefix = Field(description="First word of every extension key, e.g. acme.")
    categories: tuple[Extension, ...] = Field(default=(), description="Extra data categories.")
    uses: tuple[Extension, ...] = Field(default=(), description="Extra data uses.")


class Tenancy(_Model):
    """Whether enterprise customers (tenants) control part of the data."""

    multi_tenant: bool = Field(
        default=False,
        description="True if enterprise customers (tenants) have their own users and data.",
    )
    default_tenant: Slug = Field(
        default="default",
        description="Tenant id for data subjects who belong to no enterprise customer "
        "(every subject when the platform is not multi-tenant).",
    )


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of a ``#rrggbb`` colour (WCAG 2.2)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours, from 1 to 21."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


#: the contrast WCAG 2.2 AA asks of normal text (1.4.3)
AA_CONTRAST = 4.5
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _colour(value: str) -> str:
    if not _COLOUR.match(value):
        raise invalid(f"{value}: not a colour", "write it as #rrggbb, such as #0b57d0")
    return value.lower()


Colour = Annotated[str, AfterValidator(_colour)]


class BrandLink(_Model):
    """A link shown in the footer of the tenant's pages."""

    label: str = Field(min_length=1, max_length=80, description="Text of the link.")
    url: Url = Field(description="Where it leads.")


class Branding(_Model):
    """How the tenant's privacy center looks: name, logo, colours and footer links."""

    name: str | None = Field(
        default=None,
        max_length=120,
        description="Name in the page header (default: the tenant's name).",
    )
    logo_url: Url | None = Field(
        default=None, description="Logo shown beside the name (https; its text is the name)."
    )
    accent: Colour | None = Field(
        default=None,
        description="Colour of links, buttons and focus rings, #rrggbb; white text on it and "
        "it on white must reach a contrast of 4.5:1 (WCAG 2.2 AA).",
    )
    header: Colour | None = Field(
        default=None,
        description="Background of the page header, #rrggbb; its text is black or white, "
        "whichever contrasts more.",
    )
    links: tuple[BrandLink, ...] = Field(
        default=(), max_length=8, description="Footer links (terms, help, imprint …)."
    )

    @field_validator("accent")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None and contrast(value, "#ffffff") < AA_CONTRAST:
            ratio = contrast(value, "#ffffff")
            raise invalid(
                f"{value}: contrast with white is {ratio:.2f}:1, below the 4.5:1 that "
                "WCAG 2.2 AA asks of text",
                "choose a darker accent colour, such as #0b57d0",
            )
        return value

    @field_validator("logo_url")
    @classmethod
    def _logo_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise invalid(f"{value}: logos load over https only", "use an https:// address")
        return value


class Tenant(_Model):
    """An enterprise customer created when the service is initialised."""

    id: Slug = Field(description="Stable id, lowercase letters, digits and hyphens.")
    name: str = Field(min_length=1, description="Display name.")
    contact: Email | None = Field(default=None, description="Tenant administrator's address.")
    country: CountryCode | None = Field(default=None, description="Tenant's country.")
    retention: dict[Key, IsoDuration] = Field(
        default_factory=dict,
        description="Retention this tenant chose, by purpose key; each purpose must allow "
        "tenant_configurable retention and the value must lie within its bounds.",
    )
    branding: Branding | None = Field(
        default=None, description="Look of the tenant's privacy center pages."
    )


class Category(_Model):
    """A category of personal data and how Tutela protects it."""

    key: TaxonomyKey = Field(
        description="fideslang data category (e.g. user.contact.email) or a declared extension."
    )
    identity: bool = Field(
        default=False,
        description="Used to find a data subject (email, phone): gets a blind index.",
    )
    sensitive: bool = Field(
        default=False, description="Sensitive data: stricter access and protection."
    )
    storage: StorageMode = Field(
        default="encrypt",
        description="encrypt: field-level encryption; hash: argon2id, can only be verified "
        "(passwords).",
    )
    controller: Controller = Field(
        default="platform",
        description="platform: the organization is controller; tenant: the enterprise "
        "customer is controller and the organization processes on its instructions.",
    )
    separate_consent: bool = Field(
        default=False, description="Needs its own explicit consent (camera, ID photo …)."
    )
    pseudonymous: bool = Field(
        default=False,
        description="Kept apart from identity data and never combined with it (analytics).",
    )
    description: str | None = Field(default=None, description="What this data is.")
    correction: Correction = Field(
        default="review",
        description="How a data subject's correction in the privacy center is carried out: "
        "immediate (at once, audited) or review (a rectification request the privacy "
        "officer carries out).",
    )


class TenantBounds(_Model):
    """The range within which a tenant may set its own retention period."""

    min: IsoDuration = Field(description="Shortest period a tenant may choose.")
    max: IsoDuration = Field(description="Longest period a tenant may choose.")


class Retention(_Model):
    """How long data kept for a purpose lives, and what happens then."""

    keep: IsoDuration = Field(description="Retention period as an ISO 8601 duration, e.g. P3Y.")
    after: RetentionStart = Field(description="Event the period counts from.")
    then: RetentionAction = Field(default="delete", description="What happens at the end.")
    tenant_configurable: TenantBounds | None = Field(
        default=None,
        description="Tenants may choose their own period within these bounds; keep is the default.",
    )

    @property
    def keep_duration(self) -> Duration:
        return parse_duration(self.keep)


class Purpose(_Model):
    """Why data is processed, on which legal basis, and which categories it needs."""

    key: Key = Field(description="Short stable key, e.g. account or newsletter.")
    use: TaxonomyKey = Field(
        description="fideslang data use (e.g. essential.service) or a declared extension."
    )
    legal_basis: LegalBasis = Field(description="Legal basis of the processing.")
    categories: tuple[TaxonomyKey, ...] = Field(
        min_length=1, description="Declared data categories this purpose needs."
    )
    subjects: tuple[DataSubject, ...] = Field(
        default=(),
        description="Whose data it is, as fideslang data-subject keys (customer, employee, "
        "visitor …); when omitted, the records of processing derive the groups from the "
        "categories and the minimum age.",
    )
    retention: Retention | None = Field(
        default=None, description="How long the data is kept for this purpose."
    )
    description: str | None = Field(default=None, description="Explanation for the notice.")


class Recipient(_Model):
    """Someone data is disclosed to: a processor, another controller or an SDK vendor."""

    name: str = Field(min_length=1, description="Product or service name.")
    role: RecipientRole = Field(description="processor, controller, third_party or sdk.")
    company: str | None = Field(default=None, description="Legal name of the company behind it.")
    country: CountryCode = Field(description="Country the data goes to.")
    purposes: tuple[Key, ...] = Field(min_length=1, description="Declared purposes it serves.")
    categories: tuple[TaxonomyKey, ...] = Field(
        min_length=1, description="Declared data categories it receives or collects."
    )
    scenario: str | None = Field(default=None, description="When it is used.")
    collection_method: str | None = Field(
        default=None, description="How it gets the data (e.g. collected by the SDK)."
    )
    policy_url: Url | None = Field(default=None, description="Its privacy policy.")
    transfer_safeguard: TransferSafeguard | None = Field(
        default=None, description="Legal safeguard for a transfer to another country."
    )
    description: str | None = Field(default=None, description="Anything else to tell users.")
    webhook: Url | None = Field(
        default=None,
        description="Address Tutela POSTs a signed notice to when the service stops "
        "(tutela sunset); https, except on localhost. Needs webhook_secret.",
    )
    webhook_secret: SecretRef | None = Field(
        default=None,
        description="env:NAME of the variable holding the secret that signs the webhook "
        "notices (at least 32 characters).",
    )

    @field_validator("webhook")
    @classmethod
    def _webhook_https(cls, value: str | None) -> str | None:
        parts = urlsplit(value or "https://")
        if parts.scheme != "https" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
            raise invalid(
                f"{value}: webhook notices must not travel unencrypted",
                "use an https:// address (plain http:// is accepted for localhost only)",
            )
        return value

    @model_validator(mode="after")
    def _webhook_pair(self) -> Recipient:
        if (self.webhook is None) != (self.webhook_secret is None):
            missing = "webhook_secret" if self.webhook_secret is None else "webhook"
            raise invalid(
                f"a recipient's webhook needs both webhook and webhook_secret; {missing} "
                "is missing",
                "add webhook: (the https address) and webhook_secret: (env:NAME of the "
                "variable holding the signing secret), or remove both",
            )
        return self


class Cookie(_Model):
    """A cookie, token or local-storage entry set on the user's device."""

    name: str = Field(min_length=1, description="Cookie or token name.")
    kind: CookieKind = Field(default="cookie", description="cookie, token or local_storage.")
    purpose: Key = Field(description="Declared purpose it serves.")
    party: Literal["first", "third"] = Field(default="first", description="Who sets it.")
    expires: Expiry = Field(description="Lifetime: an ISO 8601 duration, or session.")
    description: str | None = Field(default=None, description="What it is for.")


ErasureStrategy = Literal["delete", "null", "redact", "hash", "generalize"]


class Exemption(_Model):
    """Data an erasure keeps, with the reason the subject is given."""

    fields: tuple[FieldPath, ...] = Field(
        min_length=1,
        description="Fields kept, as collection.field, or collection.* for whole rows.",
    )
    reason: str = Field(
        min_length=1, description="Why they are kept, e.g. invoices kept for tax law."
    )
    until: str | None = Field(
        default=None, description="Until when, e.g. 10 years after the invoice date."
    )


class Erasure(_Model):
    """How an erasure request treats the dataset's fields."""

    categories: dict[TaxonomyKey, ErasureStrategy] = Field(
        default_factory=dict,
        description="Strategy per data category and the categories under it: delete (the "
        "row), null, redact, hash or generalize. user.* defaults to delete.",
    )
    fields: dict[FieldPath, ErasureStrategy] = Field(
        default_factory=dict,
        description="Strategy for one field, as collection.field; wins over the category.",
    )
    keep: tuple[Exemption, ...] = Field(
        default=(), description="Data kept despite erasure (legal holds, retention duties)."
    )


class CollectionRetention(_Model):
    """How retention sweeps find a collection's expired rows."""

    dated_by: str = Field(
        min_length=1,
        description="The field (a top-level column of a date or time type, or ISO 8601 text "
        "on SQLite) holding when the row was collected: rules counted from collected start "
        "there.",
    )


#: shortest and longest wait for an application endpoint to accept a request
HTTP_TIMEOUT_RANGE = (1, 120)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class HttpEndpoint(_Model):
    """An application endpoint that answers requests for a store Tutela cannot reach.

    Tutela POSTs each request to ``url``, signed with the shared secret; the application
    answers at once and posts the result back later (see docs/connectors.md).
    """

    url: Url = Field(
        description="Address Tutela POSTs requests to, e.g. https://app.example.com/privacy-hook "
        "(https, except on localhost)."
    )
    secret: SecretRef = Field(
        description="env:NAME of the variable holding the shared secret that signs requests "
        "and callbacks (at least 32 characters)."
    )
    timeout: IsoDuration = Field(
        default="PT10S",
        description="How long Tutela waits for the endpoint to accept a request, PT1S to PT2M.",
    )

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
            raise invalid(
                f"{value}: requests carry personal data and must not travel unencrypted",
                "use an https:// address (plain http:// is accepted for localhost only)",
            )
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_range(cls, value: str) -> str:
        seconds = parse_duration(value).approx_days() * 86400
        low, high = HTTP_TIMEOUT_RANGE
        if not low <= seconds <= high:
            raise invalid(
                f"{value}: the endpoint must accept a request within {low} s to {high} s",
                "write a duration from PT1S to PT2M, such as PT10S; the application answers "
                "at once and posts the result back later",
            )
        return value

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout).approx_days() * 86400


class Dataset(_Model):
    """One of the organization's own data stores.

    Either a database Tutela reaches itself, described in fideslang dataset format (``file``
    and ``connection``), or a store only the application reaches, which answers through an
    endpoint (``name``, ``http`` and the ``categories`` it holds).
    """

    file: str | None = Field(
        default=None, min_length=1, description="Dataset file, relative to this file."
    )
    connection: Connection | None = Field(
        default=None, description="env:NAME of the variable holding the database URL."
    )
    name: Key | None = Field(
        default=None,
        description="Name of a store reached through an application endpoint (with http); "
        "it names the store in access packages and in the callback address.",
    )
    http: HttpEndpoint | None = Field(
        default=None, description="The application endpoint that answers for the store."
    )
    categories: tuple[TaxonomyKey, ...] = Field(
        default=(),
        description="Declared data categories the store behind the endpoint holds (with http).",
    )
    description: str | None = Field(default=None, description="What the store holds.")
    erasure: Erasure | None = Field(
        default=None, description="Erasure strategies and exemptions for this database."
    )
    correctable: tuple[FieldPath, ...] = Field(
        default=(),
        description="Fields a data subject may correct (rectification), as collection.field.",
    )
    retention: dict[str, CollectionRetention] = Field(
        default_factory=dict,
        description="Collections retention sweeps cover, by collection name, each with the "
        "field that dates its rows; their rows are deleted or anonymized once every rule of "
        "their fields' data categories has ended.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Dataset:
        database = self.file is not None or self.connection is not None
        endpoint = self.name is not None or self.http is not None
        if database and endpoint:
            raise invalid(
                "a dataset is either a database (file, connection) or an application "
                "endpoint (name, http), not both",
                "split it into two entries under datasets",
            )
        if not database and not endpoint:
            raise invalid(
                "a dataset needs file and connection (a database Tutela reaches) or name "
                "and http (an application endpoint)",
                "add file: and connection:, or name: and http:",
            )
        if database:
            return self._database()
        return self._endpoint()

    def _database(self) -> Dataset:
        missing = "file" if self.file is None else "connection" if self.connection is None else ""
        if missing:
            raise invalid(
                f"a database dataset needs {missing}",
                "add file: (the fideslang dataset file) and connection: (env:NAME)",
            )
        if self.categories:
            raise invalid(
                "categories are listed for application endpoints only",
                "remove categories; the dataset file gives each field's data categories",
            )
        return self

    def _endpoint(self) -> Dataset:
        if self.name is None or self.http is None:
            missing = "name" if self.name is None else "http"
            raise invalid(
                f"an application endpoint needs {missing}",
                "add name: (the store's name) and http: {url, secret}",
            )
        if not self.categories:
            raise invalid(
                "an application endpoint must list the data categories its store holds",
                "add categories: with declared category keys, such as [user.contact.email]",
            )
        if self.erasure is not None or self.correctable or self.retention:
            raise invalid(
                "erasure, correctable and retention apply to databases Tutela reaches itself",
                "remove them; the application decides how its store erases and corrects, "
                "and corrections are sent by data category",
            )
        return self

    @property
    def is_http(self) -> bool:
        """True for a store reached through an application endpoint."""
        return self.http is not None


class Policy(_Model):
    """The published privacy policy these declarations belong to."""

    version: str = Field(min_length=1, description="Version label, e.g. '2024-10'.")
    effective: date = Field(description="Date the version takes effect (YYYY-MM-DD).")
    url: Url | None = Field(default=None, description="Where the policy is published.")


class Declarations(_Model):
    """Everything a privacy policy promises about personal data, in one file."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Tutela declaration file")

    tutela: Literal[1] = Field(description="Version of the declaration file format.")
    organization: Organization = Field(description="The company responsible for the data.")
    jurisdictions: tuple[Jurisdiction, ...] = Field(
        min_length=1, description="Laws that apply: gdpr, pipl, ccpa, lgpd."
    )
    languages: tuple[LanguageTag, ...] = Field(
        min_length=1, description="Languages of the notice; the first is the default."
    )
    minimum_age: int | None = Field(
        default=None,
        ge=13,
        le=21,
        description="Below this age a guardian must consent.",
    )
    storage: Storage = Field(description="Where personal data is stored.")
    taxonomy: Taxonomy | None = Field(default=None, description="Extensions of fideslang.")
    tenancy: Tenancy = Field(default_factory=Tenancy, description="Enterprise customers.")
    tenants: tuple[Tenant, ...] = Field(default=(), description="Tenants created at init.")
    categories: tuple[Category, ...] = Field(
        min_length=1, description="Every category of personal data collected."
    )
    purposes: tuple[Purpose, ...] = Field(
        min_length=1, description="Every purpose data is processed for."
    )
    recipients: tuple[Recipient, ...] = Field(
        default=(), description="Processors, controllers and SDKs data is disclosed to."
    )
    cookies: tuple[Cookie, ...] = Field(default=(), description="Cookies and tokens.")
    datasets: tuple[Dataset, ...] = Field(
        default=(),
        description="The organization's own data stores: databases, and application endpoints.",
    )
    policy: Policy | None = Field(default=None, description="The published policy version.")

    # -- look-ups used by the rest of the system ---------------------------------------

    @cached_property
    def _categories_by_key(self) -> dict[str, Category]:
        return {category.key: category for category in self.categories}

    @cached_property
    def _purposes_by_key(self) -> dict[str, Purpose]:
        return {purpose.key: purpose for purpose in self.purposes}

    def category(self, key: str) -> Category | None:
        """The declared category with this key, or ``None``."""
        return self._categories_by_key.get(key)

    def purpose(self, key: str) -> Purpose | None:
        """The declared purpose with this key, or ``None``."""
        return self._purposes_by_key.get(key)

    def purposes_using(self, category_key: str) -> tuple[Purpose, ...]:
        """Purposes that list the category."""
        return tuple(p for p in self.purposes if category_key in p.categories)

    @cached_property
    def category_keys(self) -> frozenset[str]:
        return frozenset(self._categories_by_key)

    @cached_property
    def identity_categories(self) -> tuple[Category, ...]:
        """Categories used to find a data subject (blind-indexed)."""
        return tuple(c for c in self.categories if c.identity)

    @cached_property
    def sensitive_categories(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.sensitive)

    @cached_property
    def tenant_categories(self) -> tuple[Category, ...]:
        """Categories the tenant controls (the organization is their processor)."""
        return tuple(c for c in self.categories if c.controller == "tenant")

    @cached_property
    def consent_purposes(self) -> tuple[Purpose, ...]:
        """Purposes whose legal basis is consent."""
        return tuple(p for p in self.purposes if p.legal_basis == "consent")

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def is_multi_tenant(self) -> bool:
        return self.tenancy.multi_tenant

    @property
    def default_phone_region(self) -> str:
        """Region for phone numbers written without a country code, e.g. ``DE``."""
        return self.organization.country
