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
* ``purpose_ended``     when the purpose ended for the subject, or for every subject of the
                        tenant (recorded by the privacy officer), whichever came first.
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
    length: int = 0  # the period's approximate length in microseconds (0: unknown)


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


#: Two rules whose ends, measured by their approximate lengths, are closer than this are
#: compared exactly, by the calendar: a period's approximate length is off by at most about
#: three days (a month counted as 30.44 days, a year as 365.25), so two by about six.
_CLOSE_CALL = 8 * 86400 * 1_000_000


class Deadlines:
    """Whether data is due, for many items at one moment.

    Each rule's *latest start* — the last moment a period could have begun and still have
    ended by now — is found once (a binary search over the calendar arithmetic of the period),
    so deciding an item compares integers. The answers are those of :func:`expiry`.
    """

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self._latest: dict[int, int] = {}

    def latest_start(self, rule: Rule) -> int:
        """Microseconds since the epoch: a period that began then or before has ended."""
        found = self._latest.get(id(rule))
        if found is None:
            found = self._latest[id(rule)] = latest_start(rule.keep, self.now)
        return found

    def of(self, category: str, rules: Sequence[Rule]) -> Timed:
        """The rules of one category, timed for this moment."""
        return Timed(category, tuple((rule, self.latest_start(rule)) for rule in rules))

    def due(
        self, category: str, collected: int, rules: Sequence[Rule], events: Events
    ) -> Expiry | None:
        """The expiry of a category whose every rule has ended (``then`` and ``rule`` of the
        one that ended last); ``None`` when it is not due."""
        return self.of(category, rules).due(collected, events)


@dataclass(frozen=True)
class Timed:
    """A category's rules, each with its latest start at one moment (see :class:`Deadlines`)."""

    category: str
    rules: tuple[tuple[Rule, int], ...]

    def due(self, collected: int, events: Events) -> Expiry | None:
        """The expiry if every rule has ended (``then`` and ``rule`` of the one that ended
        last); ``None`` when it is not due, or no rule applies."""
        if not self.rules:
            return None
        starts: list[tuple[Rule, int]] = []
        for rule, latest in self.rules:
            start = _start(rule, collected, events)
            if start is None or start > latest:
                return None
            starts.append((rule, start))
        if len(starts) == 1:
            rule = starts[0][0]
            return Expiry(self.category, True, None, rule.then, rule.purpose)
        return self._last(starts)

    def _last(self, starts: list[tuple[Rule, int]]) -> Expiry:
        """The rule that ended last; exact by the calendar when two come close."""
        first = second = None
        for item in starts:
            end = item[1] + item[0].length
            if first is None or end > first[1] + first[0].length:
                first, second = item, first
            elif second is None or end > second[1] + second[0].length:
                second = item
        assert first is not None
        assert second is not None
        gap = first[1] + first[0].length - (second[1] + second[0].length)
        if first[0].length and second[0].length and gap > _CLOSE_CALL:
            return Expiry(self.category, True, None, first[0].then, first[0].purpose)
        latest: tuple[dt.datetime, Rule] | None = None
        for rule, start in starts:  # in declaration order: the first wins a tie
            end_at = rule.keep(_moment(start))
            if latest is None or end_at > latest[0]:
                latest = (end_at, rule)
        assert latest is not None
        return Expiry(self.category, True, latest[0], latest[1].then, latest[1].purpose)


def latest_start(keep: Callable[[dt.datetime], dt.datetime], now: dt.datetime) -> int:
    """The largest start (microseconds since the epoch) with ``keep(start) <= now``."""

    def ended(micros: int) -> bool:
        return keep(_moment(micros)) <= now

    high = int(now.timestamp() * 1_000_000) + 86400 * 1_000_000  # keep(s) >= s > now
    step = 86400 * 1_000_000
    low = high - step
    while not ended(low):
        step *= 2
        low = high - step
    while high - low > 1:
        middle = (low + high) // 2
        if ended(middle):
            low = middle
        else:
            high = middle
    return low
