"""Records of processing activities (GDPR art. 30), built from the declarations alone.

One record per declared purpose answers art. 30(1): who the controller and its data
protection officer are, why the data is processed and on which legal basis, whose data it
is, which categories of personal data, who receives them, which of them sit in third
countries and under which safeguard, when the data is erased, and how it is protected. When
enterprise customers (tenants) control part of the data, a processor section answers
art. 30(2) for the data the organization processes on their behalf.

Everything here is pure: a :class:`~tutela.declarations.models.Declarations` goes in, a
JSON-ready dict comes out, with the same keys in the same order every time. The formats
(CSV, JSON, JSON-LD with W3C DPV terms) are rendered by :mod:`tutela.services.ropa_formats`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tutela.declarations.durations import parse_duration
from tutela.domain.receipts import DPV_LEGAL_BASES, dpv_category

if TYPE_CHECKING:
    from tutela.declarations.models import Category, Declarations, Purpose, Recipient, Retention

SCHEMA = "tutela-ropa/1"
STANDARD = "GDPR art. 30"

#: Member states of the European Economic Area: the area GDPR transfers leave.
EEA = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    }
)
#: Laws with a cross-border transfer regime, and the countries a transfer under them leaves.
TRANSFER_AREAS: dict[str, frozenset[str]] = {
    "gdpr": EEA,
    "pipl": frozenset({"CN"}),
    "lgpd": frozenset({"BR"}),
}

#: Groups of data subjects: words for the record and the DPV term for JSON-LD. The
#: fideslang data-subject keys (declared with ``subjects:``) come first, then the groups
#: derived from the declarations.
SUBJECTS: dict[str, tuple[str, str]] = {
    "anonymous_user": ("anonymous users", "dpv:User"),
    "citizen_voter": ("citizens registered to vote", "dpv:Citizen"),
    "commuter": ("commuters", "dpv:DataSubject"),
    "consultant": ("consultants", "dpv:DataSubject"),
    "customer": ("customers", "dpv:Customer"),
    "employee": ("employees", "dpv:Employee"),
    "job_applicant": ("job applicants", "dpv:JobApplicant"),
    "next_of_kin": ("next of kin", "dpv:DataSubject"),
    "passenger": ("passengers", "dpv:DataSubject"),
    "patient": ("patients", "dpv:Patient"),
    "prospect": ("prospective customers", "dpv:DataSubject"),
    "shareholder": ("shareholders", "dpv:DataSubject"),
    "supplier_vendor": ("suppliers and vendors", "dpv:DataSubject"),
    "trainee": ("trainees", "dpv:DataSubject"),
    "visitor": ("visitors of the website or app", "dpv:Visitor"),
    "user": ("users of the service", "dpv:User"),
    "pseudonymous_user": ("users of the service, known only under a pseudonym", "dpv:User"),
    "tenant_end_user": (
        "end users of the enterprise customers (tenants), processed on their behalf",
        "dpv:User",
    ),
    "minor": ("minors", "dpv:Child"),
    "guardian": ("guardians of minors, whose consent is recorded", "dpv:GuardianOfDataSubject"),
}

#: fideslang data uses (prefixes, the longest wins) and the DPV purpose each one means.
DPV_PURPOSES = {
    "analytics": "dpv:ServiceUsageAnalytics",
    "employment": "dpv:HumanResourceManagement",
    "employment.recruitment": "dpv:PersonnelHiring",
    "essential": "dpv:ServiceProvision",
    "essential.fraud_detection": "dpv:FraudPreventionAndDetection",
    "essential.legal_obligation": "dpv:LegalCompliance",
    "essential.service.authentication": "dpv:IdentityAuthentication",
    "essential.service.notifications": "dpv:CommunicationManagement",
    "essential.service.operations.improve": "dpv:ImproveExistingProductsAndServices",
    "essential.service.operations.support": "dpv:CustomerCare",
    "essential.service.payment_processing": "dpv:PaymentManagement",
    "essential.service.security": "dpv:EnforceSecurity",
    "functional": "dpv:ServiceProvision",
    "functional.service.improve": "dpv:ImproveExistingProductsAndServices",
    "marketing": "dpv:Marketing",
    "marketing.advertising": "dpv:Advertising",
    "marketing.advertising.first_party.targeted": "dpv:TargetedAdvertising",
    "marketing.advertising.third_party.targeted": "dpv:TargetedAdvertising",
    "marketing.communications": "dpv:DirectMarketing",
    "personalize": "dpv:Personalisation",
    "sales": "dpv:SellProducts",
    "train_ai_system": "dpv:ResearchAndDevelopment",
}

RECIPIENT_ROLES = {
    "processor": "processors",
    "controller": "other controllers",
    "third_party": "third parties",
    "sdk": "SDK vendors",
}
SAFEGUARDS = {
    "adequacy": "adequacy decision",
    "standard_contract": "standard contractual clauses",
    "binding_corporate_rules": "binding corporate rules",
    "certification": "certification",
    "consent": "explicit consent of the data subject",
    "derogation": "derogation for a specific situation",
}
NO_SAFEGUARD = "none declared"

_AFTER = {
    "collected": "after collection",
    "last_activity": "after the data subject's last activity",
    "account_closed": "after the account is closed",
    "consent_withdrawn": "after consent is withdrawn",
    "purpose_ended": "after the purpose ends",
}
_AT = {
    "collected": "on collection",
    "last_activity": "at the data subject's last activity",
    "account_closed": "when the account is closed",
    "consent_withdrawn": "when consent is withdrawn",
    "purpose_ended": "when the purpose ends",
}
_DONE = {"delete": "deleted", "anonymize": "anonymized"}
_UNITS = ("year", "month", "week", "day", "hour", "minute", "second")


@dataclass(frozen=True)
class Measure:
    """A technical or organisational measure Tutela takes, and when it applies."""

    key: str
    text: str
    dpv: tuple[str, ...]
    applies: Callable[[Declarations, Purpose], bool]


def _always(declarations: Declarations, purpose: Purpose) -> bool:
    return True


def _with(test: Callable[[Category], bool]) -> Callable[[Declarations, Purpose], bool]:
    def applies(declarations: Declarations, purpose: Purpose) -> bool:
        return any(test(c) for c in _categories(declarations, purpose))

    return applies


MEASURES = (
    Measure(
        "field_encryption",
        "each field is encrypted with AES-256-GCM under the data subject's own 256-bit data "
        "key, bound to tenant, subject and field",
        ("dpv:EncryptionAtRest", "dpv:SymmetricEncryption"),
        _with(lambda c: c.storage == "encrypt"),
    ),
    Measure(
        "key_management",
        "data keys are kept wrapped under per-tenant key-encryption keys from a versioned key "
        "ring, in a key store apart from the main database, and rotated online",
        ("dpv:CryptographicKeyManagement",),
        _always,
    ),
    Measure(
        "blind_index",
        "data subjects are looked up by email or phone through an HMAC-SHA256 blind index "
        "under a per-tenant key, so nothing is decrypted to search",
        ("dpv:DeterministicPseudonymisation", "dpv:HashMessageAuthenticationCode"),
        _with(lambda c: c.identity),
    ),
    Measure(
        "password_hashing",
        "passwords and other verify-only data are stored as argon2id hashes and can only be "
        "verified, never read back",
        ("dpv:HashFunctions", "dpv:PasswordAuthentication"),
        _with(lambda c: c.storage == "hash"),
    ),
    Measure(
        "pseudonymous_separation",
        "pseudonymous data is kept apart from identity data and never combined with it",
        ("dpv:Pseudonymisation",),
        _with(lambda c: c.pseudonymous),
    ),
    Measure(
        "crypto_shredding",
        "erasing a data subject destroys its data key (crypto-shredding), so every copy, "
        "backups included, becomes unreadable",
        ("dpv:DataErasurePolicy",),
        _always,
    ),
    Measure(
        "retention_enforcement",
        "a scheduled sweep deletes or anonymizes what has outlived its retention rules, "
        "except what a legal hold keeps",
        ("dpv:DataStoragePolicy",),
        lambda declarations, purpose: purpose.retention is not None,
    ),
    Measure(
        "access_control",
        "API access needs a scoped API key (stored as a hash, shown once), and one tenant's "
        "keys never reach another tenant's data",
        ("dpv:AccessControlMethod", "dpv:AuthorisationProtocols"),
        _always,
    ),
    Measure(
        "audit_log",
        "every read and write of personal data is logged in the same transaction (who, what, "
        "field names, never values), in a hash chain per tenant sealed with an HMAC and "
        "verified by tutela audit verify",
        ("dpv:LoggingPolicy", "dpv:MessageAuthenticationCodes"),
        _always,
    ),
)


# -- the record ------------------------------------------------------------------------


def build_ropa(declarations: Declarations) -> dict[str, Any]:
    """The records of processing activities of ``declarations``, as a JSON-ready dict."""
    policy = declarations.policy
    return {
        "schema": SCHEMA,
        "standard": STANDARD,
        "policy": (
            {
                "version": policy.version,
                "effective": policy.effective.isoformat(),
                "url": policy.url,
            }
            if policy
            else None
        ),
        "controller": _organization(declarations),
        "jurisdictions": list(declarations.jurisdictions),
        "storage": {
            "region": declarations.storage.region,
            "countries": list(declarations.storage.countries),
        },
        "activities": [activity(declarations, p) for p in declarations.purposes],
        "processor": processor_record(declarations),
        "notes": _notes(declarations),
    }


def activity(declarations: Declarations, purpose: Purpose) -> dict[str, Any]:
    """The record of one processing activity (one declared purpose)."""
    categories = _categories(declarations, purpose)
    recipients = [_recipient(declarations, r) for r in _recipients_of(declarations, purpose)]
    return {
        "purpose": purpose.key,
        "description": purpose.description,
        "use": purpose.use,
        "use_dpv": dpv_purpose(purpose.use, declarations),
        "role": _role(categories),
        "controllers": _controllers(declarations, categories),
        "legal_basis": purpose.legal_basis,
        "legal_basis_dpv": DPV_LEGAL_BASES[purpose.legal_basis],
        "subjects": subjects(declarations, purpose),
        "categories": [_category(declarations, c) for c in categories],
        "recipient_categories": sorted({RECIPIENT_ROLES[r["role"]] for r in recipients}),
        "recipients": recipients,
        "transfers": [_transfer(r) for r in recipients if r["third_country"]],
        "retention": retention(declarations, purpose),
        "security_measures": security_measures(declarations, purpose),
    }


def processor_record(declarations: Declarations) -> dict[str, Any] | None:
    """Art. 30(2): what the organization processes on behalf of its tenants, or ``None``."""
    tenant_keys = {c.key for c in declarations.tenant_categories}
    if not declarations.is_multi_tenant or not tenant_keys:
        return None
    processing = []
    purposes: list[Purpose] = []
    receiving: list[Recipient] = []
    for purpose in declarations.purposes:
        keys = [k for k in purpose.categories if k in tenant_keys]
        if not keys:
            continue
        purposes.append(purpose)
        processing.append(
            {
                "purpose": purpose.key,
                "description": purpose.description,
                "categories": keys,
                "retention": retention(declarations, purpose),
            }
        )
        receiving.extend(
            r
            for r in _recipients_of(declarations, purpose)
            if set(r.categories) & tenant_keys and r not in receiving
        )
    transfers = [_recipient(declarations, r) for r in receiving]
    return {
        "processor": _organization(declarations),
        "controllers": [
            {"tenant": t.id, "name": t.name, "contact": t.contact, "country": t.country}
            for t in declarations.tenants
            if t.id != declarations.tenancy.default_tenant
        ],
        "controllers_note": "every tenant is a controller of its end users' data, the tenants "
        "created later included",
        "processing": processing,
        "transfers": [_transfer(r) for r in transfers if r["third_country"]],
        "security_measures": [
            _measure(m) for m in MEASURES if any(m.applies(declarations, p) for p in purposes)
        ],
    }


# -- parts -----------------------------------------------------------------------------


def subjects(declarations: Declarations, purpose: Purpose) -> list[dict[str, Any]]:
    """Whose data the purpose processes: the declared groups, else the derived ones.

    Derived: users when the organization controls some of the purpose's categories
    (pseudonymous users when all of them are pseudonymous); the tenants' end users when a
    tenant controls some; visitors when the purpose sets cookies or tokens. With a declared
    minimum age, minors are added to every purpose, and guardians to consent-based ones.
    """
    keys: list[tuple[str, str]] = [(key, "declared") for key in dict.fromkeys(purpose.subjects)]
    if not keys:
        categories = _categories(declarations, purpose)
        platform = [c for c in categories if c.controller == "platform"]
        if platform:
            pseudonymous = all(c.pseudonymous for c in platform)
            keys.append(("pseudonymous_user" if pseudonymous else "user", "derived"))
        if any(c.controller == "tenant" for c in categories):
            keys.append(("tenant_end_user", "derived"))
        if any(c.purpose == purpose.key for c in declarations.cookies):
            keys.append(("visitor", "derived"))
    if declarations.minimum_age is not None:
        keys.append(("minor", "derived"))
        if purpose.legal_basis == "consent":
            keys.append(("guardian", "derived"))
    found = []
    for key, source in keys:
        text, term = SUBJECTS[key]
        if key == "minor":
            text = f"minors under {declarations.minimum_age}, with a guardian's consent"
        found.append({"key": key, "text": text, "dpv": term, "source": source})
    return found


def retention(declarations: Declarations, purpose: Purpose) -> dict[str, Any] | None:
    """The time limit for erasure, in machine form and in words; ``None`` if none."""
    rule = purpose.retention
    if rule is None:
        return None
    bounds = rule.tenant_configurable
    tenants = {
        t.id: t.retention[purpose.key] for t in declarations.tenants if purpose.key in t.retention
    }
    return {
        "period": rule.keep,
        "after": rule.after,
        "then": rule.then,
        "tenant_configurable": {"min": bounds.min, "max": bounds.max} if bounds else None,
        "tenant_periods": tenants if bounds else {},
        "text": retention_text(rule),
    }


def retention_text(rule: Retention) -> str:
    """A retention rule in English, e.g. ``kept 30 days after the account is closed, then
    deleted``."""
    done = _DONE[rule.then]
    if parse_duration(rule.keep).approx_days() == 0:
        text = f"{done} {_AT[rule.after]}"
    else:
        text = f"kept {duration_words(rule.keep)} {_AFTER[rule.after]}, then {done}"
    bounds = rule.tenant_configurable
    if bounds is not None:
        text += (
            f", and each tenant may choose from {duration_words(bounds.min)} to "
            f"{duration_words(bounds.max)}"
        )
    return text


def duration_words(iso: str) -> str:
    """An ISO 8601 duration in English: ``P1Y6M`` is ``1 year and 6 months``."""
    duration = parse_duration(iso)
    parts = [
        f"{value} {unit}{'' if value == 1 else 's'}"
        for unit in _UNITS
        if (value := getattr(duration, unit + "s"))
    ]
    if not parts:
        return "0 days"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def security_measures(declarations: Declarations, purpose: Purpose) -> list[dict[str, Any]]:
    """The measures Tutela takes for the purpose's data (art. 32(1), as art. 30(1)(g) asks)."""
    return [_measure(m) for m in MEASURES if m.applies(declarations, purpose)]


def transfer_laws(declarations: Declarations, country: str) -> list[str]:
    """The declared laws under which sending data to ``country`` is a third-country transfer."""
    return [
        law
        for law in declarations.jurisdictions
        if law in TRANSFER_AREAS and country not in TRANSFER_AREAS[law]
    ]


def dpv_purpose(use: str, declarations: Declarations | None = None) -> str:
    """The DPV purpose for a fideslang data use (extensions through their parents)."""
    taxonomy = declarations.taxonomy if declarations else None
    extensions = {e.key: e.parent for e in taxonomy.uses} if taxonomy else {}
    seen: set[str] = set()
    current: str | None = use
    while current is not None and current not in seen:
        seen.add(current)
        parts = current.split(".")
        for end in range(len(parts), 0, -1):
            term = DPV_PURPOSES.get(".".join(parts[:end]))
            if term is not None:
                return term
        current = extensions.get(current)
    return "dpv:Purpose"


def _categories(declarations: Declarations, purpose: Purpose) -> list[Category]:
    found = (declarations.category(key) for key in purpose.categories)
    return [c for c in found if c is not None]


def _category(declarations: Declarations, category: Category) -> dict[str, Any]:
    return {
        "key": category.key,
        "description": category.description or _extension_text(declarations, category.key),
        "dpv": dpv_category(category.key, declarations),
        "sensitive": category.sensitive,
        "storage": category.storage,
        "controller": category.controller,
    }


def _extension_text(declarations: Declarations, key: str) -> str | None:
    taxonomy = declarations.taxonomy
    if taxonomy is None:
        return None
    return next((e.description for e in taxonomy.categories if e.key == key), None)


def _role(categories: Iterable[Category]) -> str:
    controllers = {c.controller for c in categories}
    if controllers == {"tenant"}:
        return "processor"
    return "controller and processor" if "tenant" in controllers else "controller"


def _controllers(declarations: Declarations, categories: list[Category]) -> list[str]:
    found = []
    if any(c.controller == "platform" for c in categories):
        found.append(declarations.organization.name)
    if any(c.controller == "tenant" for c in categories):
        found.append("each tenant, for its end users' data")
    return found


def _recipients_of(declarations: Declarations, purpose: Purpose) -> list[Recipient]:
    return [r for r in declarations.recipients if purpose.key in r.purposes]


def _recipient(declarations: Declarations, recipient: Recipient) -> dict[str, Any]:
    laws = transfer_laws(declarations, recipient.country)
    return {
        "name": recipient.name,
        "role": recipient.role,
        "company": recipient.company,
        "country": recipient.country,
        "categories": list(recipient.categories),
        "third_country": bool(laws),
        "transfer_laws": laws,
        "transfer_safeguard": recipient.transfer_safeguard,
        "policy_url": recipient.policy_url,
    }


def _transfer(recipient: dict[str, Any]) -> dict[str, Any]:
    safeguard = recipient["transfer_safeguard"]
    return {
        "recipient": recipient["name"],
        "country": recipient["country"],
        "laws": recipient["transfer_laws"],
        "safeguard": safeguard,
        "safeguard_text": SAFEGUARDS[safeguard] if safeguard else NO_SAFEGUARD,
    }


def _measure(measure: Measure) -> dict[str, Any]:
    return {"key": measure.key, "text": measure.text, "dpv": list(measure.dpv)}


def _organization(declarations: Declarations) -> dict[str, Any]:
    org = declarations.organization
    return {
        "name": org.name,
        "contact": org.contact,
        "address": org.address,
        "country": org.country,
        "website": org.website,
        "dpo": {"name": org.dpo.name, "email": org.dpo.email} if org.dpo else None,
    }


def _notes(declarations: Declarations) -> list[str]:
    notes = [
        "Joint controllers and a representative in the Union (art. 27) are not part of the "
        "declarations; add them where they exist.",
    ]
    stores = [d.name or d.file or "" for d in declarations.datasets]
    if stores:
        notes.append(
            "The security measures describe the data Tutela keeps in its vault. The "
            f"application's own data stores ({', '.join(stores)}) keep their own measures; "
            "Tutela reaches them for data-subject requests, retention and sunset, and audits "
            "every access."
        )
    return notes
