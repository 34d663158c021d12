"""Personal-data breaches: the risk decision, and the legal clocks it starts.

An incident is open until every clock that runs for it is met (the authority was told, the
subjects were told) or, when it was met late, the reasons for the delay are on record.

Clocks run from the time the organization became aware of the breach, per jurisdiction the
declarations name (sources in docs/incidents.md):

* GDPR art. 33(1): the supervisory authority within 72 hours, unless the breach is unlikely
  to result in a risk to people; information may follow in phases (art. 33(4)); a late
  report gives the reasons for the delay. Art. 34(1): the subjects without undue delay when
  the risk is high, unless art. 34(3) exempts it: (a) the data was unintelligible (encrypted,
  key safe), (b) later measures make the high risk unlikely, (c) it would take a
  disproportionate effort: a public communication instead. "Without undue delay" has no
  number; Tutela holds it to a target (``gdpr_subject_hours``), marked not binding.
* PIPL art. 57: the authorities and the individuals immediately; the individuals need not
  be told when the measures taken effectively avoid harm. "Immediately" is held to a
  configurable number of hours (``pipl_hours``; the CAC reporting measures of 2025 set 4).
* California, Civil Code 1798.82 (as amended by SB 446, in force 1 January 2026): the
  residents within 30 calendar days of discovery, unless the data was encrypted and the key
  safe or is not "personal information" as 1798.82(h) defines it; with more than 500
  residents, a sample copy to the Attorney General within 15 days of telling them (1798.82(f)).
* LGPD art. 48 with Resolution CD/ANPD nº 15/2024: the ANPD (art. 6) and the subjects
  (art. 9) within 3 business days when the incident may bring relevant risk or damage.

Until a risk assessment is recorded Tutela assumes the worst: every clock runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tutela.domain.errors import Conflict, InvalidInput
from tutela.domain.requests import add_business_days

OPEN, CLOSED = "open", "closed"
AUTHORITY, SUBJECTS = "authority", "subjects"
JURISDICTIONS = ("gdpr", "pipl", "ccpa", "lgpd")

#: kinds of breach (confidentiality, integrity, availability), as the authorities' forms ask
KINDS = ("confidentiality", "integrity", "availability")

LIKELIHOODS = ("unlikely", "possible", "likely")
SEVERITIES = ("low", "medium", "high")
#: risk to people: none (unlikely to result in a risk), risk, high
RISK_LEVELS = ("none", "risk", "high")
_MATRIX: dict[tuple[str, str], str] = {
    ("unlikely", "low"): "none",
    ("unlikely", "medium"): "risk",
    ("unlikely", "high"): "risk",
    ("possible", "low"): "risk",
    ("possible", "medium"): "risk",
    ("possible", "high"): "high",
    ("likely", "low"): "risk",
    ("likely", "medium"): "high",
    ("likely", "high"): "high",
}

ENCRYPTED = "encrypted"
MITIGATED = "mitigated"
DISPROPORTIONATE = "disproportionate"
CA_NOT_COVERED = "ca_not_covered"
#: exemption -> what it means and where the law gives it
EXEMPTIONS: dict[str, str] = {
    ENCRYPTED: "the data is unintelligible to anyone not authorised to access it (encrypted, "
    "the key not compromised): GDPR art. 34(3)(a); PIPL art. 57 (harm effectively avoided)",
    MITIGATED: "measures taken since make the high risk no longer likely to materialise: "
    "GDPR art. 34(3)(b); PIPL art. 57 (harm effectively avoided)",
    DISPROPORTIONATE: "telling each subject would involve disproportionate effort: a public "
    "communication instead, GDPR art. 34(3)(c)",
    CA_NOT_COVERED: "the data is not personal information as California Civil Code "
    "1798.82(h) defines it",
}

PHASES = ("initial", "follow_up", "final")
CA_ATTORNEY_GENERAL_THRESHOLD = 500  # residents notified, Civil Code 1798.82(f)


@dataclass(frozen=True, slots=True)
class ClockSettings:
    """The numbers the law leaves open, as configured (docs/settings.md)."""

    pipl_hours: int = 4
    gdpr_subject_hours: int = 72
    ccpa_days: int = 30
    ccpa_attorney_general_days: int = 15
    lgpd_business_days: int = 3


@dataclass(frozen=True, slots=True)
class Assessment:
    likelihood: str
    severity: str
    exemptions: frozenset[str]
    reason: str
    at: dt.datetime
    by: str

    @property
    def level(self) -> str:
        return risk_level(self.likelihood, self.severity)

    def as_dict(self) -> dict[str, Any]:
        return {
            "likelihood": self.likelihood,
            "severity": self.severity,
            "risk": self.level,
            "exemptions": sorted(self.exemptions),
            "reason": self.reason,
            "at": iso(self.at),
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class Facts:
    """What the clocks depend on."""

    jurisdictions: tuple[str, ...]
    aware_at: dt.datetime
    encrypted: bool = False
    subjects: int | None = None  # approximate number affected (None: not known yet)
    assessment: Assessment | None = None
    met: Mapping[str, dt.datetime] = field(default_factory=dict)
    delay_reasons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Clock:
    key: str  # e.g. gdpr.authority
    jurisdiction: str
    audience: str  # authority | subjects
    source: str
    standard: str  # the law's words for the time limit
    binding: bool  # False: the law sets no number; ``due`` is the configured target
    started: dt.datetime  # when the clock started (awareness, or the notice it follows)
    due: dt.datetime | None  # None: not required
    met_at: dt.datetime | None = None
    not_required: str | None = None  # why the clock does not run
    public: bool = False  # met by a public communication (GDPR art. 34(3)(c))
    delay_reason: str | None = None

    @property
    def running(self) -> bool:
        return self.due is not None

    @property
    def late(self) -> bool:
        return self.due is not None and self.met_at is not None and self.met_at > self.due

    def status(self, now: dt.datetime) -> str:
        """not_required | met | met_late | overdue | due_soon (under 25 % left) | on_time."""
        if self.due is None:
            return "not_required"
        if self.met_at is not None:
            return "met_late" if self.late else "met"
        if now > self.due:
            return "overdue"
        return "due_soon" if self.due - now < (self.due - self.started) * 0.25 else "on_time"

    def as_dict(self, now: dt.datetime) -> dict[str, Any]:
        left = None if self.due is None or self.met_at else int((self.due - now).total_seconds())
        return {
            "clock": self.key,
            "jurisdiction": self.jurisdiction,
            "audience": self.audience,
            "status": self.status(now),
            "due": iso(self.due) if self.due else None,
            "seconds_left": left,
            "binding": self.binding,
            "standard": self.standard,
            "source": self.source,
            "met_at": iso(self.met_at) if self.met_at else None,
            "public_communication": self.public,
            "not_required": self.not_required,
            "delay_reason": self.delay_reason,
        }


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def risk_level(likelihood: str, severity: str) -> str:
    """none | risk | high, from the likelihood and severity of the consequences for people."""
    likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
    return _MATRIX[(likelihood, check_choice("severity", severity, SEVERITIES))]


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidInput(
            f"{name} {value!r} is not known; use one of {', '.join(choices)}",
            details={name: value},
        )
    return value


def check_exemptions(names: Iterable[str], encrypted: bool) -> frozenset[str]:
    found = frozenset(names)
    unknown = sorted(found - set(EXEMPTIONS))
    if unknown:
        raise InvalidInput(
            f"unknown exemption {', '.join(unknown)}; use {', '.join(EXEMPTIONS)}",
            details={"exemptions": unknown},
        )
    if ENCRYPTED in found and not encrypted:
        raise InvalidInput(
            "the encrypted exemption needs the incident to record that the data was encrypted "
            "with keys that were not compromised; record it first (update --encrypted)",
            details={"exemptions": [ENCRYPTED]},
        )
    return found


def check_jurisdiction(name: str) -> str:
    return check_choice("jurisdiction", name, JURISDICTIONS)


# -- clocks -------------------------------------------------------------------------------


def _clock(
    facts: Facts,
    key: str,
    *,
    source: str,
    standard: str,
    binding: bool,
    due: dt.datetime,
    not_required: str | None = None,
    public: bool = False,
    started: dt.datetime | None = None,
) -> Clock:
    jurisdiction, audience = key.split(".")
    return Clock(
        key,
        jurisdiction,
        audience,
        source,
        standard,
        binding,
        started or facts.aware_at,
        None if not_required else due,
        facts.met.get(key),
        not_required,
        public,
        facts.delay_reasons.get(key),
    )


def _gdpr(facts: Facts, settings: ClockSettings, level: str, exempt: frozenset[str]) -> list[Clock]:
    aware = facts.aware_at
    authority = _clock(
        facts,
        "gdpr.authority",
        source="GDPR art. 33(1); phased reporting art. 33(4)",
        standard="without undue delay and, where feasible, not later than 72 hours",
        binding=True,
        due=aware + dt.timedelta(hours=72),
        not_required="GDPR art. 33(1): unlikely to result in a risk to people"
        if level == "none"
        else None,
    )
    why: str | None = None
    if level != "high":
        why = "GDPR art. 34(1): the risk to people is not high"
    elif ENCRYPTED in exempt:
        why = "GDPR art. 34(3)(a): the data is unintelligible (encrypted, key safe)"
    elif MITIGATED in exempt:
        why = "GDPR art. 34(3)(b): the high risk is no longer likely to materialise"
    subjects = _clock(
        facts,
        "gdpr.subjects",
        source="GDPR art. 34(1); exemptions art. 34(3)",
        standard="without undue delay",
        binding=False,
        due=aware + dt.timedelta(hours=settings.gdpr_subject_hours),
        not_required=why,
        public=DISPROPORTIONATE in exempt,
    )
    return [authority, subjects]


def _pipl(facts: Facts, settings: ClockSettings, exempt: frozenset[str]) -> list[Clock]:
    due = facts.aware_at + dt.timedelta(hours=settings.pipl_hours)
    authority = _clock(
        facts,
        "pipl.authority",
        source="PIPL art. 57",
        standard="immediately",
        binding=False,
        due=due,
    )
    why = None
    if exempt & {ENCRYPTED, MITIGATED}:
        why = "PIPL art. 57: the measures taken effectively avoid harm (the authority may "
        why += "still require the individuals to be told)"
    subjects = _clock(
        facts,
        "pipl.subjects",
        source="PIPL art. 57",
        standard="immediately",
        binding=False,
        due=due,
        not_required=why,
    )
    return [authority, subjects]


def _ccpa(facts: Facts, settings: ClockSettings, exempt: frozenset[str]) -> list[Clock]:
    why = None
    if facts.encrypted:
        why = "Civil Code 1798.82(a): the data was encrypted and the key not compromised"
    elif CA_NOT_COVERED in exempt:
        why = "Civil Code 1798.82(h): not personal information as the statute defines it"
    subjects = _clock(
        facts,
        "ccpa.subjects",
        source="California Civil Code 1798.82(a) (SB 446, from 2026-01-01)",
        standard=f"within {settings.ccpa_days} calendar days of discovery",
        binding=True,
        due=facts.aware_at + dt.timedelta(days=settings.ccpa_days),
        not_required=why,
    )
    few = facts.subjects is not None and facts.subjects <= CA_ATTORNEY_GENERAL_THRESHOLD
    counted_from = subjects.met_at or subjects.due or facts.aware_at
    attorney_general = _clock(
        facts,
        "ccpa.authority",
        source="California Civil Code 1798.82(f) (SB 446)",
        standard=f"a sample copy to the Attorney General within "
        f"{settings.ccpa_attorney_general_days} days of notifying more than "
        f"{CA_ATTORNEY_GENERAL_THRESHOLD} residents",
        binding=True,
        due=counted_from + dt.timedelta(days=settings.ccpa_attorney_general_days),
        started=subjects.met_at or facts.aware_at,
        not_required=why
        or (
            f"Civil Code 1798.82(f): not more than {CA_ATTORNEY_GENERAL_THRESHOLD} residents"
            if few
            else None
        ),
    )
    return [subjects, attorney_general]


def _lgpd(facts: Facts, settings: ClockSettings, level: str) -> list[Clock]:
    aware = facts.aware_at
    day = add_business_days(aware.date(), settings.lgpd_business_days)
    due = dt.datetime.combine(day, aware.timetz())
    why = "LGPD art. 48: no relevant risk or damage to the subjects" if level == "none" else None
    standard = f"within {settings.lgpd_business_days} business days of awareness"
    return [
        _clock(
            facts,
            "lgpd.authority",
            source="LGPD art. 48; Resolution CD/ANPD nº 15/2024 art. 6",
            standard=standard,
            binding=True,
            due=due,
            not_required=why,
        ),
        _clock(
            facts,
            "lgpd.subjects",
            source="LGPD art. 48; Resolution CD/ANPD nº 15/2024 art. 9",
            standard=standard,
            binding=True,
            due=due,
            not_required=why,
        ),
    ]


def clocks(facts: Facts, settings: ClockSettings) -> list[Clock]:
    """Every clock of the declared jurisdictions, in declaration order (authority first)."""
    assessment = facts.assessment
    level = assessment.level if assessment is not None else "high"
    exempt = assessment.exemptions if assessment is not None else frozenset()
    found: list[Clock] = []
    for jurisdiction in dict.fromkeys(facts.jurisdictions):
        if jurisdiction == "gdpr":
            found += _gdpr(facts, settings, level, exempt)
        elif jurisdiction == "pipl":
            found += _pipl(facts, settings, exempt)
        elif jurisdiction == "ccpa":
            found += _ccpa(facts, settings, exempt)
        elif jurisdiction == "lgpd":
            found += _lgpd(facts, settings, level)
    return found


def running(found: Iterable[Clock]) -> list[Clock]:
    return [c for c in found if c.running]


def urgency(found: Sequence[Clock], now: dt.datetime) -> tuple[int, float]:
    """Sort key of an incident by its most pressing clock: overdue first (most overdue on
    top), then the earliest deadline; an incident with every clock met or stopped last."""
    pending = [c for c in found if c.running and c.met_at is None]
    if not pending:
        return (2, 0.0)
    first = min(c.due for c in pending if c.due is not None)
    return (0 if first < now else 1, (first - now).total_seconds())


def closing_problems(found: Sequence[Clock], assessed: bool) -> list[str]:
    """What stands in the way of closing: no assessment, unmet clocks, late ones without
    the reasons for the delay (GDPR art. 33(1))."""
    problems: list[str] = []
    if not assessed:
        problems.append("no risk assessment is recorded; assess the incident first")
    for clock in found:
        if not clock.running:
            continue
        if clock.met_at is None:
            to = "the authority has" if clock.audience == AUTHORITY else "the subjects have"
            problems.append(f"{clock.key}: {to} not been told yet")
        elif clock.late and not clock.delay_reason:
            problems.append(f"{clock.key}: met late; record the reasons for the delay")
    return problems


def require_open(state: str, incident_id: str) -> None:
    if state != OPEN:
        raise Conflict(
            f"incident {incident_id} is closed; open a new incident for new facts",
            details={"incident": incident_id},
        )
