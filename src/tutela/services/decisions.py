"""Fast consent decisions: purpose rules from the declarations, and a per-process cache.

A check with a warm cache is two dictionary look-ups. The cache is kept true by two means:
writes in this process invalidate their subject at once, and every ``poll_interval`` seconds
(default 50 ms) a check reads the change feed that every decision-changing write appends to,
so other processes' writes take effect here within that interval. The feed reader remembers
sequence gaps (a transaction that took a number but had not committed yet) and looks at
them again, so a late commit is not missed.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tutela.domain.consent import (
    NO_CONSENT,
    Decision,
    PurposeConsent,
    PurposeRule,
    SubjectStanding,
    decide,
)

UNKNOWN_SUBJECT = Decision(False, "unknown_subject")
UNKNOWN = SubjectStanding("unknown")
ALL = "*"  # a change-feed entry for every tenant and subject: the rules changed
UNKNOWN_PURPOSE = Decision(False, "unknown_purpose")
GAP_SECONDS = 10.0
UNKNOWN_SECONDS = 1.0  # another process's new subject is known here within this time


def purpose_rules(
    declarations: Any, stale_before: Mapping[str, int] | None = None
) -> dict[str, PurposeRule]:
    """One rule per declared purpose: legal basis, separate consent, sale/sharing."""
    if declarations is None or not hasattr(declarations, "purposes"):
        return {}
    stale_before = stale_before or {}
    pipl = "pipl" in declarations.jurisdictions
    home = set(declarations.storage.countries or ()) | {declarations.storage.region}
    rules: dict[str, PurposeRule] = {}
    for purpose in declarations.purposes:
        categories = [declarations.category(key) for key in purpose.categories]
        separate = any(c is not None and c.separate_consent for c in categories)
        if pipl:
            # PIPL art. 29: sensitive personal information; art. 39: transfer abroad
            separate = separate or any(c is not None and c.sensitive for c in categories)
            separate = separate or any(
                purpose.key in r.purposes and r.country not in home for r in declarations.recipients
            )
        use = purpose.use
        sale = use.startswith(("marketing", "third_party_sharing", "personalize.profiling"))
        rules[purpose.key] = PurposeRule(
            purpose.key, purpose.legal_basis, separate, sale, stale_before.get(purpose.key)
        )
    return rules


@dataclass(slots=True)
class SubjectDecisions:
    standing: SubjectStanding
    states: dict[str, PurposeConsent]
    day: int = -1
    decisions: dict[str, Decision] = field(default_factory=dict)
    expires: float = math.inf  # unknown subjects are remembered only briefly


Loader = Callable[[str, str], SubjectDecisions | None]
Feed = Callable[[int, list[int]], list[tuple[int, str, str]]]


def _utc_day() -> int:
    return int(time.time() // 86400)


class DecisionCache:
    def __init__(
        self,
        rules: Mapping[str, PurposeRule],
        load: Loader,
        feed: Feed,
        *,
        reload_rules: Callable[[], Mapping[str, PurposeRule]] | None = None,
        start_seq: int = 0,
        poll_interval: float = 0.05,
        capacity: int = 200_000,
        today: Callable[[], int] = _utc_day,
    ) -> None:
        self.rules = dict(rules)
        self._reload_rules = reload_rules
        self._load = load
        self._feed = feed
        self._seq = start_seq
        self._gaps: dict[int, float] = {}
        self._interval = poll_interval
        self._next_poll = time.monotonic() + poll_interval
        self._capacity = capacity
        self._today = today
        self._entries: dict[tuple[str, str], SubjectDecisions] = {}
        self._lock = threading.Lock()
        self._poll_claimed = False

    # -- the hot path ---------------------------------------------------------------------

    def check(self, tenant_id: str, subject_id: str, purpose: str) -> Decision:
        if time.monotonic() >= self._next_poll:
            self.poll()
        entry = self._entries.get((tenant_id, subject_id))
        if entry is None or entry.expires < time.monotonic():
            entry = self._fill(tenant_id, subject_id)
        day = self._today()
        if entry.day != day:
            self._decide_all(entry, day)
        decision = entry.decisions.get(purpose)
        return UNKNOWN_PURPOSE if decision is None else decision

    def check_many(self, tenant_id: str, pairs: Iterable[tuple[str, str]]) -> list[Decision]:
        return [self.check(tenant_id, subject, purpose) for subject, purpose in pairs]

    def peek_many(self, tenant_id: str, pairs: Iterable[tuple[str, str]]) -> list[Decision] | None:
        """Answers from memory only: None when a poll is due or a subject is not cached
        (the caller then runs :meth:`check_many` off the event loop)."""
        now = time.monotonic()
        if now >= self._next_poll and not self._poll_claimed:
            self._poll_claimed = True  # this caller polls; the others answer meanwhile
            return None
        day = self._today()
        entries = self._entries
        answers: list[Decision] = []
        for subject, purpose in pairs:
            entry = entries.get((tenant_id, subject))
            if entry is None or entry.day != day or entry.expires < now:
                return None
            decision = entry.decisions.get(purpose)
            answers.append(UNKNOWN_PURPOSE if decision is None else decision)
        return answers

    # -- keeping it true ------------------------------------------------------------------

    def invalidate(self, tenant_id: str, subject_id: str) -> None:
        self._entries.pop((tenant_id, subject_id), None)

    def clear(self) -> None:
        self._entries.clear()

    def poll(self) -> None:
        """Read the change feed and drop the entries it names."""
        with self._lock:
            now = time.monotonic()
            if now < self._next_poll:
                return
            self._next_poll = now + self._interval
            self._poll_claimed = False
            self._gaps = {s: t for s, t in self._gaps.items() if now - t < GAP_SECONDS}
            changes = self._feed(self._seq, list(self._gaps))
            for seq, tenant_id, subject_id in changes:
                if tenant_id == ALL and subject_id == ALL:  # the rules themselves changed
                    if self._reload_rules is not None:
                        self.rules = dict(self._reload_rules())
                    self._entries.clear()
                self._entries.pop((tenant_id, subject_id), None)
                self._gaps.pop(seq, None)
                if seq > self._seq:
                    for missing in range(self._seq + 1, seq):
                        self._gaps.setdefault(missing, now)
                    self._seq = seq

    def _fill(self, tenant_id: str, subject_id: str) -> SubjectDecisions:
        entry = self._load(tenant_id, subject_id)
        if entry is None:
            entry = SubjectDecisions(UNKNOWN, {}, expires=time.monotonic() + UNKNOWN_SECONDS)
        if len(self._entries) >= self._capacity:
            self._entries.pop(next(iter(self._entries)), None)  # evict the oldest
        self._decide_all(entry, self._today())
        self._entries[(tenant_id, subject_id)] = entry
        return entry

    def _decide_all(self, entry: SubjectDecisions, day: int) -> None:
        today = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        entry.decisions = {
            key: decide(rule, entry.standing, entry.states.get(key, NO_CONSENT), today)
            for key, rule in self.rules.items()
        }
        entry.day = day
