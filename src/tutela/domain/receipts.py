"""Consent receipts: what a data subject agreed to (or refused), as a JSON-ready record.

A receipt is built from one consent event and the declarations in force when it happened.
Its structure follows ISO/IEC TS 27560 (consent record information structure): schema
marker, record id, pseudonymous subject id, notice, controllers, purposes with their data
categories, retention and recipients, storage locations, jurisdiction, the event and its
resulting state, how consent was collected, who gave it and how to withdraw it. Legal
bases, consent states and data categories also carry W3C Data Privacy Vocabulary (DPV)
terms, with an ``@context`` naming the namespaces, so that the receipt can be read as
JSON-LD.

A receipt never holds a personal value: the subject appears only under its pseudonymous
id. Signing is an adapter's job (``tutela.adapters.signing``); this module stays pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

from tutela.domain.errors import InvalidInput

if TYPE_CHECKING:
    from tutela.declarations.models import Declarations, Purpose, Recipient

SCHEMA = "tutela-consent-receipt/1"
STANDARD = "ISO/IEC TS 27560:2023"
CONTEXT = {"dpv": "https://w3id.org/dpv#", "dpv-pd": "https://w3id.org/dpv/pd#"}

Action = Literal["grant", "refuse", "withdraw"]
Method = Literal["web_form", "api", "cookie_banner", "browser_signal", "guardian"]
GivenBy = Literal["subject", "guardian"]

STATES: dict[str, str] = {"grant": "given", "refuse": "refused", "withdraw": "withdrawn"}
DPV_STATES = {
    "given": "dpv:ConsentGiven",
    "refused": "dpv:ConsentRefused",
    "withdrawn": "dpv:ConsentWithdrawn",
}
DPV_LEGAL_BASES = {
    "consent": "dpv:Consent",
    "contract": "dpv:Contract",
    "legal_obligation": "dpv:LegalObligation",
    "legitimate_interests": "dpv:LegitimateInterest",
    "vital_interests": "dpv:VitalInterest",
    "public_task": "dpv:PublicInterest",  # DPV has no PublicTask concept
}
#: fideslang data-category prefixes and the DPV personal-data term each one means. The
#: longest matching prefix wins; a key with no match is given as the fideslang key itself.
DPV_CATEGORIES = {
    "user.account.username": "dpv-pd:Username",
    "user.authorization.password": "dpv-pd:Password",
    "user.authorization": "dpv-pd:Authenticating",
    "user.behavior.browsing_history": "dpv-pd:BrowserHistory",
    "user.behavior.purchase_history": "dpv-pd:Purchase",
    "user.behavior": "dpv-pd:Behavioral",
    "user.biometric.fingerprint": "dpv-pd:Fingerprint",
    "user.biometric": "dpv-pd:Biometric",
    "user.contact.address": "dpv-pd:PhysicalAddress",
    "user.contact.email": "dpv-pd:EmailAddress",
    "user.contact.phone_number": "dpv-pd:TelephoneNumber",
    "user.contact": "dpv-pd:Contact",
    "user.content.self_image": "dpv-pd:Picture",
    "user.demographic.age_range": "dpv-pd:AgeRange",
    "user.demographic.date_of_birth": "dpv-pd:BirthDate",
    "user.demographic.gender": "dpv-pd:Gender",
    "user.demographic.political_opinion": "dpv-pd:PoliticalOpinion",
    "user.demographic.religious_belief": "dpv-pd:ReligiousBelief",
    "user.demographic": "dpv-pd:Demographic",
    "user.device.ip_address": "dpv-pd:IPAddress",
    "user.device": "dpv-pd:DeviceBased",
    "user.financial.bank_account": "dpv-pd:BankAccount",
    "user.financial.credit_card": "dpv-pd:CreditCardNumber",
    "user.financial": "dpv-pd:Financial",
    "user.government_id.passport_number": "dpv-pd:Passport",
    "user.government_id": "dpv-pd:OfficialID",
    "user.health_and_medical": "dpv-pd:Health",
    "user.job_title": "dpv-pd:Job",
    "user.location": "dpv-pd:Location",
    "user.name": "dpv-pd:Name",
    "user.unique_id": "dpv-pd:UID",
}
#: Latest representable instant (exclusive), in microseconds since the epoch.
_MAX_AT = 253_402_300_800_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _one_of(value: object, allowed: Any, field: str) -> None:
    choices = get_args(allowed)
    if value not in choices:
        raise InvalidInput(
            f"{field} must be one of {', '.join(choices)}, not {value!r}", details={"field": field}
        )


@dataclass(frozen=True)
class ReceiptEvent:
    """One consent event of one subject: the facts a receipt records."""

    record_id: str
    subject_id: str
    tenant_id: str
    action: Action
    at: int
    policy_version: str | None
    notice_language: str
    method: Method
    jurisdiction: str
    by: GivenBy
    guardian_verified_by: str | None
    bundled: bool

    def __post_init__(self) -> None:
        try:
            uuid.UUID(self.record_id)
        except (ValueError, TypeError, AttributeError):
            raise InvalidInput(
                "record_id must be a UUID, e.g. str(uuid.uuid4())", details={"field": "record_id"}
            ) from None
        for field in ("subject_id", "tenant_id", "notice_language", "jurisdiction"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field):
                raise InvalidInput(f"{field} must be a non-empty string", details={"field": field})
        if "@" in self.subject_id:
            raise InvalidInput(
                "subject_id looks like an email address; receipts name the subject only by "
                "its pseudonymous id",
                details={"field": "subject_id"},
            )
        _one_of(self.action, Action, "action")
        _one_of(self.method, Method, "method")
        _one_of(self.by, GivenBy, "by")
        if isinstance(self.at, bool) or not isinstance(self.at, int) or not 0 <= self.at < _MAX_AT:
            raise InvalidInput(
                "at must be an integer count of microseconds since 1970-01-01 UTC",
                details={"field": "at"},
            )
        if (self.by == "guardian") != bool(self.guardian_verified_by):
            raise InvalidInput(
                "guardian_verified_by must name how the guardian was verified when by is "
                "'guardian', and be None when the subject consented",
                details={"field": "guardian_verified_by"},
            )

    @property
    def state(self) -> str:
        """The consent state after the event: given, refused or withdrawn."""
        return STATES[self.action]

    @property
    def time(self) -> str:
        """The event time in ISO 8601, UTC, with microseconds."""
        moment = _EPOCH + timedelta(microseconds=self.at)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_receipt(
    event: ReceiptEvent,
    declarations: Declarations,
    *,
    purposes: Sequence[str],
    tenant_periods: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The consent receipt of ``event`` for ``purposes``, as a JSON-ready dict.

    ``tenant_periods`` are the retention periods the tenant's administrator set at run time
    (purpose key -> ISO 8601 duration); for tenant-configurable purposes they take the place
    of the declarations' choice for the tenant.

    Raises :class:`~tutela.domain.errors.InvalidInput` for an unknown or repeated purpose
    key, or a jurisdiction or notice language the declarations do not list.
    """
    chosen = _purposes(declarations, purposes)
    _check_declared(event.jurisdiction, declarations.jurisdictions, "jurisdiction")
    _check_declared(event.notice_language, declarations.languages, "notice_language")
    policy = declarations.policy
    return {
        "@context": dict(CONTEXT),
        "schema": SCHEMA,
        "standard": STANDARD,
        "record_id": event.record_id,
        "subject_id": event.subject_id,
        "tenant_id": event.tenant_id,
        "notice": {
            "version": event.policy_version,
            "language": event.notice_language,
            "url": policy.url if policy else None,
        },
        "controllers": _controllers(event, declarations, chosen),
        "purposes": [_purpose(p, event, declarations, tenant_periods or {}) for p in chosen],
        "storage": {
            "region": declarations.storage.region,
            "countries": list(declarations.storage.countries),
        },
        "jurisdiction": event.jurisdiction,
        "event": {
            "type": event.action,
            "time": event.time,
            "state": event.state,
            "state_dpv": DPV_STATES[event.state],
        },
        "collection": {
            "method": event.method,
            "by": event.by,
            "guardian_verified_by": event.guardian_verified_by,
            "bundled": event.bundled,
        },
        "withdrawal": _withdrawal(event, declarations),
    }


def dpv_category(key: str, declarations: Declarations | None = None) -> str:
    """The DPV personal-data term for a data category, or the key itself if none fits.

    Extension keys of the declarations' taxonomy are looked up through their parents.
    """
    seen: set[str] = set()
    current: str | None = key
    while current is not None and current not in seen:
        seen.add(current)
        parts = current.split(".")
        for end in range(len(parts), 0, -1):
            term = DPV_CATEGORIES.get(".".join(parts[:end]))
            if term is not None:
                return term
        current = _parent(current, declarations)
    return key


def _parent(key: str, declarations: Declarations | None) -> str | None:
    taxonomy = declarations.taxonomy if declarations else None
    if taxonomy is None:
        return None
    return next((e.parent for e in taxonomy.categories if e.key == key), None)


def _purposes(declarations: Declarations, keys: Sequence[str]) -> list[Purpose]:
    if isinstance(keys, str) or not keys:
        raise InvalidInput(
            "purposes must be a non-empty list of purpose keys", details={"field": "purposes"}
        )
    chosen: list[Purpose] = []
    for key in keys:
        purpose = declarations.purpose(key)
        if purpose is None:
            known = ", ".join(p.key for p in declarations.purposes)
            raise InvalidInput(
                f"unknown purpose {key!r}: the declarations define {known}; use one of them "
                "or declare the purpose first",
                details={"field": "purposes", "purpose": key},
            )
        if purpose in chosen:
            raise InvalidInput(
                f"purpose {key!r} is listed twice; list each purpose once",
                details={"field": "purposes", "purpose": key},
            )
        chosen.append(purpose)
    return chosen


def _check_declared(value: str, declared: Sequence[str], field: str) -> None:
    if value not in declared:
        raise InvalidInput(
            f"{field} {value!r} is not in the declarations ({', '.join(declared)}); "
            "use a declared one or add it to the declaration file",
            details={"field": field},
        )


def _controllers(
    event: ReceiptEvent, declarations: Declarations, chosen: list[Purpose]
) -> list[dict[str, Any]]:
    org = declarations.organization
    controllers: list[dict[str, Any]] = [
        {
            "kind": "organization",
            "name": org.name,
            "contact": org.contact,
            "country": org.country,
            "dpo": {"name": org.dpo.name, "email": org.dpo.email} if org.dpo else None,
        }
    ]
    tenant_keys = sorted(
        {key for p in chosen for key in p.categories if _controller(key, declarations) == "tenant"}
    )
    if tenant_keys and event.tenant_id != declarations.tenancy.default_tenant:
        tenant = next((t for t in declarations.tenants if t.id == event.tenant_id), None)
        controllers.append(
            {
                "kind": "tenant",
                "tenant_id": event.tenant_id,
                "name": tenant.name if tenant else None,
                "contact": tenant.contact if tenant else None,
                "country": tenant.country if tenant else None,
                "categories": tenant_keys,
            }
        )
    return controllers


def _controller(key: str, declarations: Declarations) -> str:
    category = declarations.category(key)
    return category.controller if category else "platform"


def _purpose(
    purpose: Purpose,
    event: ReceiptEvent,
    declarations: Declarations,
    tenant_periods: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "key": purpose.key,
        "description": purpose.description,
        "use": purpose.use,
        "legal_basis": purpose.legal_basis,
        "legal_basis_dpv": DPV_LEGAL_BASES[purpose.legal_basis],
        "categories": [_category(key, declarations) for key in purpose.categories],
        "retention": _retention(purpose, event, declarations, tenant_periods),
        "recipients": [_recipient(r) for r in declarations.recipients if purpose.key in r.purposes],
    }


def _category(key: str, declarations: Declarations) -> dict[str, Any]:
    category = declarations.category(key)
    return {
        "key": key,
        "dpv": dpv_category(key, declarations),
        "sensitive": bool(category and category.sensitive),
        "controller": _controller(key, declarations),
    }


def _retention(
    purpose: Purpose,
    event: ReceiptEvent,
    declarations: Declarations,
    tenant_periods: Mapping[str, str],
) -> dict[str, Any] | None:
    retention = purpose.retention
    if retention is None:
        return None
    period, set_by = retention.keep, "declarations"
    tenant = next((t for t in declarations.tenants if t.id == event.tenant_id), None)
    if retention.tenant_configurable and tenant and purpose.key in tenant.retention:
        period, set_by = tenant.retention[purpose.key], "tenant"
    if retention.tenant_configurable and purpose.key in tenant_periods:
        period, set_by = tenant_periods[purpose.key], "tenant"
    return {"period": period, "after": retention.after, "then": retention.then, "set_by": set_by}


def _recipient(recipient: Recipient) -> dict[str, Any]:
    return {
        "name": recipient.name,
        "role": recipient.role,
        "company": recipient.company,
        "country": recipient.country,
        "categories": list(recipient.categories),
        "transfer_safeguard": recipient.transfer_safeguard,
        "policy_url": recipient.policy_url,
    }


def _withdrawal(event: ReceiptEvent, declarations: Declarations) -> dict[str, Any]:
    if event.method == "api":
        method, where = "api", "through the same application interface it was given with"
    else:
        method, where = "privacy_center", "in the privacy center"
    return {
        "method": method,
        "text": f"You can withdraw this consent at any time, as easily as it was given, {where}. "
        "Withdrawing does not affect processing that took place before.",
        "contact": declarations.organization.contact,
    }
