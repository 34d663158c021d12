"""Data-subject requests: types, states, legal deadlines.

States::

    received ──► verifying ──► verified ──► in_progress ──► completed
        │            │            │              │
        └────────────┴────────────┴──────────────┴──► rejected (reason shown to the subject)
        received / verifying / verified ──► cancelled (by the subject)

An operator with the dpo scope may verify a request directly (received → verified) by a
documented method. ``extended`` is recorded on the request, not a state.

Deadlines (from receipt; see docs/requests.md for the sources):

* GDPR art. 12(3): one month, extendable by two further months with reasons given within the
  first month. The clock pauses while the controller waits for the information it needs to
  identify the subject (EDPB Guidelines 01/2022 on the right of access, on time limits).
* CCPA (Cal. Code Regs. tit. 11 § 7021): 45 calendar days, extendable once by 45; receipt
  confirmed within 10 business days; the period runs regardless of verification time.
* LGPD art. 19 II: 15 days for the complete declaration of access.
* PIPL sets no number; the default follows GB/T 35273-2020 § 8.7 (respond within 30 days),
  configurable.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from tutela.domain.errors import Conflict, InvalidInput

TYPES: tuple[str, ...] = (
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "lift_restriction",
    "objection",
    "withdraw_consent",
    "account_closure",
)
STATES: tuple[str, ...] = (
    "received",
    "verifying",
    "verified",
    "in_progress",
    "completed",
    "rejected",
    "cancelled",
)
OPEN_STATES = frozenset({"received", "verifying", "verified", "in_progress"})
FINAL_STATES = frozenset({"completed", "rejected", "cancelled"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"verifying", "verified", "rejected", "cancelled"}),
    "verifying": frozenset({"verifying", "verified", "rejected", "cancelled"}),
    "verified": frozenset({"in_progress", "rejected", "cancelled"}),
    "in_progress": frozenset({"in_progress", "completed", "rejected"}),
    "completed": frozenset(),
    "rejected": frozenset(),
    "cancelled": frozenset(),
}


def check_type(kind: str) -> str:
    if kind not in TYPES:
        raise InvalidInput(
            f"unknown request type {kind!r}; use one of {', '.join(TYPES)}",
            details={"type": kind},
        )
    return kind


def transition(current: str, wanted: str) -> str:
    """The new state, or Conflict naming what is allowed from here."""
    if wanted not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "nothing (it is closed)"
        raise Conflict(
            f"a request that is {current} cannot become {wanted}; from {current}: {allowed}",
            details={"state": current, "wanted": wanted},
        )
    return wanted


# -- deadlines ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    jurisdiction: str
    amount: int
    unit: str  # months | days | business_days
    extension: int  # in the same unit; 0 = none
    pause_for_verification: bool
    acknowledge_business_days: int | None = None
    source: str = ""


RULES: dict[str, DeadlineRule] = {
    "gdpr": DeadlineRule(
        "gdpr",
        1,
        "months",
        2,
        True,
        None,
        "GDPR art. 12(3); EDPB Guidelines 01/2022 on the right of access",
    ),
    "ccpa": DeadlineRule(
        "ccpa", 45, "days", 45, False, 10, "Cal. Code Regs. tit. 11 § 7021(a)-(b)"
    ),
    "lgpd": DeadlineRule("lgpd", 15, "days", 0, False, None, "LGPD art. 19 II"),
    "pipl": DeadlineRule(
        "pipl", 30, "days", 0, True, None, "PIPL art. 50 (no number); GB/T 35273-2020 § 8.7"
    ),
}


def rule_for(jurisdiction: str, pipl_days: int = 30) -> DeadlineRule:
    rule = RULES.get(jurisdiction)
    if rule is None:
        raise InvalidInput(
            f"unknown jurisdiction {jurisdiction!r}; use one of {', '.join(RULES)}",
            details={"jurisdiction": jurisdiction},
        )
    if jurisdiction == "pipl" and pipl_days != rule.amount:
        return DeadlineRule("pipl", pipl_days, "days", 0, True, None, rule.source)
    return rule


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day-of-month ``months`` later; the month's last day if it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_business_days(day: dt.date, count: int) -> dt.date:
    """``count`` business days (Monday–Friday) after ``day``."""
    current = day
    while count > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            count -= 1
    return current


def add(day: dt.date, amount: int, unit: str) -> dt.date:
    if unit == "months":
        return add_months(day, amount)
    if unit == "business_days":
        return add_business_days(day, amount)
    return day + dt.timedelta(days=amount)


def due_date(rule: DeadlineRule, received: dt.date, paused_days: int, extended: bool) -> dt.date:
    """The last day to answer: receipt + period (+ extension), + paused days if allowed."""
    total = rule.amount + (rule.extension if extended else 0)
    due = add(received, total, rule.unit)  # counted from receipt: 31 Jan + 3 months = 30 Apr
    if rule.pause_for_verification and paused_days > 0:
        due += dt.timedelta(days=paused_days)
    return due


def acknowledge_by(rule: DeadlineRule, received: dt.date) -> dt.date | None:
    if rule.acknowledge_business_days is None:
        return None
    return add_business_days(received, rule.acknowledge_business_days)


def can_extend(rule: DeadlineRule, received: dt.date, today: dt.date, already: bool) -> None:
    """Raise with the reason when an extension is not possible now."""
    if already:
        raise Conflict("the request was already extended once")
    if not rule.extension:
        raise Conflict(f"{rule.jurisdiction.upper()} allows no extension of this deadline")
    first_period_end = add(received, rule.amount, rule.unit)
    if today > first_period_end:
        raise Conflict(
            f"an extension must be decided and told to the subject within the first period "
            f"(by {first_period_end.isoformat()})"
        )


def urgency(received: dt.date, due: dt.date, today: dt.date) -> str:
    """overdue | due_soon (under 25 % of the time left) | on_time."""
    if today > due:
        return "overdue"
    total = max((due - received).days, 1)
    left = (due - today).days
    return "due_soon" if left < total * 0.25 else "on_time"
