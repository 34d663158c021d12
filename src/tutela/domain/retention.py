"""Retention: when each piece of a subject's data expires, and what happens to it then.

Every purpose that uses a category may say how long it keeps it (``keep``), counted from an
event (``after``), and what follows (``then``: delete or anonymize). A category used by
several purposes lives until the *longest* applicable rule ends; a rule whose start event
has not happened yet (the account is still open, consent was never withdrawn) has not
started, so the data is not due. Tenant-configurable purposes use the tenant's chosen
period, which the declarations bound.

Start events and what Tutela reads them from:

* ``collected``         when the field was last written;
* ``last_activity``     the subject's last change in Tutela (registration, correction,
                        consent event);
* ``account_closed``    when the account was closed (status ``closed``);
* ``consent_withdrawn`` when consent to that purpose was withdrawn or refused;
* ``purpose_ended``     not yet: nothing marks a purpose ended, so such a rule never starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    purpose: str
    keep: Callable[[dt.datetime], dt.datetime]  # start -> end of the period
    keep_text: str  # ISO 8601, for reports
    after: str
    then: str  # delete | anonymize


@dataclass(frozen=True, slots=True)
class Events:
    """What happened to one subject (microseconds since the epoch, UTC)."""

    last_activity: int
    account_closed: int | None = None
    consent_withdrawn: Mapping[str, int] | None = None  # purpose -> when
    purposes_ended: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Expiry:
    category: str
    due: bool
    ends_at: dt.datetime | None  # None: some rule has not started
    then: str
    rule: str  # the purpose whose rule ends last


def _moment(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)


def _start(rule: Rule, collected: int, events: Events) -> int | None:
    if rule.after == "collected":
        return collected
    if rule.after == "last_activity":
        return events.last_activity
    if rule.after == "account_closed":
        return events.account_closed
    if rule.after == "consent_withdrawn":
        return (events.consent_withdrawn or {}).get(rule.purpose)
    return (events.purposes_ended or {}).get(rule.purpose)


def expiry(
    category: str, collected: int, rules: Sequence[Rule], events: Events, now: dt.datetime
) -> Expiry | None:
    """When this category of this subject expires under every applicable rule (None when no
    rule applies: such data is never due)."""
    if not rules:
        return None
    latest: tuple[dt.datetime, Rule] | None = None
    for rule in rules:
        start = _start(rule, collected, events)
        if start is None:
            return Expiry(category, False, None, rule.then, rule.purpose)
        end = rule.keep(_moment(start))
        if latest is None or end > latest[0]:
            latest = (end, rule)
    assert latest is not None
    end, rule = latest
    return Expiry(category, end <= now, end, rule.then, rule.purpose)
