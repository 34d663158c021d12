"""Consent: the append-only ledger, its fold into a current state, and "may I process?".

Events are ordered by the ledger (``seq``); the state of a subject × purpose is a pure fold
over them, so it can always be recomputed from the ledger and checked against what is
stored. The decision covers every legal basis, not only consent, and always says why.

Fold rules, per purpose, in ledger order:

* ``grant`` makes the purpose *granted*; it records who granted (the subject, or a guardian)
  and whether the grant was a bundled "accept all".
* ``refuse`` and ``withdraw`` make it *refused* / *withdrawn* and forget earlier grants: a
  later grant starts afresh. Withdrawal stops future processing only; past events stay.
* A repeated identical event changes nothing (duplicates are harmless).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

Action = Literal["grant", "refuse", "withdraw"]
By = Literal["subject", "guardian"]
ACTIONS: tuple[str, ...] = ("grant", "refuse", "withdraw")
METHODS: tuple[str, ...] = ("web_form", "api", "cookie_banner", "browser_signal", "guardian")

#: minimum age of digital consent by jurisdiction (a declaration may set a higher one)
DEFAULT_MINIMUM_AGE: dict[str, int] = {
    "gdpr": 16,  # art. 8(1); member states may lower it to 13
    "pipl": 14,  # art. 31
    "ccpa": 16,  # Cal. Civ. Code 1798.120(c): opt-in to sale/sharing under 16
    "lgpd": 12,  # art. 14 with ECA art. 2: a child is under 12
}


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    seq: int
    purpose: str
    action: Action
    at: int  # microseconds since the epoch, UTC
    by: By = "subject"
    bundled: bool = False
    policy_version: int | None = None


@dataclass(frozen=True, slots=True)
class PurposeConsent:
    """The current consent state of one subject for one purpose."""

    status: Literal["none", "granted", "refused", "withdrawn"] = "none"
    by_subject: bool = False  # a grant by the subject since the last refusal/withdrawal
    by_guardian: bool = False  # a grant by a guardian since then
    separate: bool = False  # a grant given for this purpose alone (not bundled) since then
    seq: int = 0
    at: int = 0
    policy_version: int | None = None


NO_CONSENT = PurposeConsent()


def apply(state: PurposeConsent, event: ConsentEvent) -> PurposeConsent:
    """One step of the fold; events at or before the state's position are ignored."""
    if event.seq <= state.seq:
        return state
    if event.action == "grant":
        fresh = state if state.status == "granted" else NO_CONSENT
        return PurposeConsent(
            "granted",
            fresh.by_subject or event.by == "subject",
            fresh.by_guardian or event.by == "guardian",
            fresh.separate or not event.bundled,
            event.seq,
            event.at,
            event.policy_version,
        )
    status: Literal["refused", "withdrawn"] = "refused" if event.action == "refuse" else "withdrawn"
    return replace(
        NO_CONSENT, status=status, seq=event.seq, at=event.at, policy_version=event.policy_version
    )


def fold(events: Iterable[ConsentEvent]) -> dict[str, PurposeConsent]:
    """The state per purpose after all events, in ledger order (duplicates ignored)."""
    states: dict[str, PurposeConsent] = {}
    for event in sorted(events, key=lambda e: e.seq):
        states[event.purpose] = apply(states.get(event.purpose, NO_CONSENT), event)
    return states


# -- the decision -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurposeRule:
    """What the declarations say about one purpose, precomputed for fast checks."""

    key: str
    legal_basis: str
    needs_separate: bool  # sensitive categories / cross-border transfer under separate consent
    sale_or_sharing: bool  # opted out by Global Privacy Control
    stale_before: int | None = None  # consents given before this time need renewal


@dataclass(frozen=True, slots=True)
class SubjectStanding:
    """What is known about a subject beyond consent."""

    status: str  # active | erased | closed | unknown
    minor_until: dt.date | None = None  # a minor until this day (exclusive); kept after
    restricted: bool = False
    objections: frozenset[str] = frozenset()  # purposes objected to


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"allowed": self.allowed, "reason": self.reason}


OBJECTABLE = frozenset({"legitimate_interests", "public_task"})

ALLOW_BY_BASIS = {
    "contract": Decision(True, "contract"),
    "legal_obligation": Decision(True, "legal_obligation"),
    "vital_interests": Decision(True, "vital_interests"),
    "public_task": Decision(True, "public_task"),
    "legitimate_interests": Decision(True, "legitimate_interests"),
}
REASONS: dict[str, str] = {
    "consent": "the subject (or the guardian of a minor) consented",
    "contract": "needed for the contract with the subject while the account is active",
    "legal_obligation": "required by law",
    "vital_interests": "protects someone's vital interests",
    "public_task": "a task in the public interest",
    "legitimate_interests": "a legitimate interest the subject has not objected to",
    "no_consent": "the subject has not consented to this purpose",
    "consent_refused": "the subject refused consent",
    "consent_withdrawn": "the subject withdrew consent",
    "consent_stale": "the policy changed since consent was given; ask again",
    "guardian_consent_required": "the subject is a minor; a guardian must consent first",
    "own_consent_required": "the subject came of age; ask for their own consent",
    "separate_consent_required": "this purpose needs its own consent; a bundled one does not count",
    "subject_restricted": "processing of this subject is restricted",
    "objection": "the subject objected to this purpose",
    "subject_erased": "the subject was erased",
    "account_closed": "the subject's account is closed",
    "unknown_subject": "no such subject in this tenant",
    "unknown_purpose": "no such purpose in the declarations",
}


def decide(
    rule: PurposeRule | None,
    standing: SubjectStanding,
    consent: PurposeConsent,
    today: dt.date,
) -> Decision:
    """May this purpose process this subject's data today? Never raises; always says why."""
    if rule is None:
        return Decision(False, "unknown_purpose")
    if standing.status == "unknown":
        return Decision(False, "unknown_subject")
    if standing.status == "erased":
        return Decision(False, "subject_erased")
    if standing.status == "closed" and rule.legal_basis != "legal_obligation":
        return Decision(False, "account_closed")
    if standing.restricted and rule.legal_basis != "legal_obligation":
        return Decision(False, "subject_restricted")
    if rule.key in standing.objections and (
        rule.legal_basis in OBJECTABLE or rule.sale_or_sharing
    ):  # GDPR art. 21: legitimate interests, public task, and direct marketing always
        return Decision(False, "objection")
    if rule.legal_basis != "consent":
        return ALLOW_BY_BASIS.get(rule.legal_basis, Decision(False, "no_consent"))
    return _decide_consent(rule, standing, consent, today)


def _decide_consent(
    rule: PurposeRule, standing: SubjectStanding, consent: PurposeConsent, today: dt.date
) -> Decision:
    if consent.status == "none":
        return Decision(False, "no_consent")
    if consent.status == "refused":
        return Decision(False, "consent_refused")
    if consent.status == "withdrawn":
        return Decision(False, "consent_withdrawn")
    minor = standing.minor_until is not None and today < standing.minor_until
    if minor and not consent.by_guardian:
        return Decision(False, "guardian_consent_required")
    if not minor and standing.minor_until is not None and not consent.by_subject:
        return Decision(False, "own_consent_required")
    if rule.needs_separate and not consent.separate:
        return Decision(False, "separate_consent_required")
    if rule.stale_before is not None and consent.at < rule.stale_before:
        return Decision(False, "consent_stale")
    return Decision(True, "consent")


def minor_until(birth_date: dt.date, minimum_age: int) -> dt.date:
    """The day a person born on ``birth_date`` reaches ``minimum_age`` (29 Feb → 1 Mar)."""
    year = birth_date.year + minimum_age
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)


def effective_minimum_age(jurisdictions: Iterable[str], declared: int | None) -> int:
    """The declared age, or the strictest default of the jurisdictions that apply."""
    defaults = [DEFAULT_MINIMUM_AGE.get(j, 16) for j in jurisdictions] or [16]
    return declared if declared is not None else max(defaults)


def gpc_purposes(rules: Mapping[str, PurposeRule]) -> list[str]:
    """Consent purposes a Global Privacy Control signal opts out of."""
    return sorted(k for k, r in rules.items() if r.sale_or_sharing and r.legal_basis == "consent")
