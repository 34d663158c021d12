"""The consent state is a pure fold over the ledger: properties that must always hold."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from tutela.domain.consent import (
    NO_CONSENT,
    ConsentEvent,
    PurposeRule,
    SubjectStanding,
    apply,
    decide,
    effective_minimum_age,
    fold,
    minor_until,
)

PURPOSES = ["newsletter", "analytics", "surveys"]


@st.composite
def ledgers(draw: st.DrawFn) -> list[ConsentEvent]:
    count = draw(st.integers(min_value=0, max_value=30))
    events = []
    for seq in range(1, count + 1):
        events.append(
            ConsentEvent(
                seq=seq,
                purpose=draw(st.sampled_from(PURPOSES)),
                action=draw(st.sampled_from(["grant", "refuse", "withdraw"])),
                at=1_700_000_000_000_000 + seq,
                by=draw(st.sampled_from(["subject", "guardian"])),
                bundled=draw(st.booleans()),
                policy_version=draw(st.integers(min_value=1, max_value=3)),
            )
        )
    return events


@given(ledgers(), st.randoms())
def test_the_order_events_arrive_in_does_not_matter(
    events: list[ConsentEvent], rnd: random.Random
) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(events)


@given(ledgers(), st.randoms())
def test_duplicates_change_nothing(events: list[ConsentEvent], rnd: random.Random) -> None:
    doubled = events + [rnd.choice(events) for _ in range(len(events))] if events else []
    assert fold(doubled) == fold(events)


@given(ledgers())
def test_the_last_event_in_ledger_order_decides_the_status(events: list[ConsentEvent]) -> None:
    states = fold(events)
    expected = {"grant": "granted", "refuse": "refused", "withdraw": "withdrawn"}
    for purpose in PURPOSES:
        mine = [e for e in events if e.purpose == purpose]
        if not mine:
            assert purpose not in states
            continue
        last = max(mine, key=lambda e: e.seq)
        assert states[purpose].status == expected[last.action]
        assert states[purpose].seq == last.seq


@given(ledgers())
def test_grants_before_a_withdrawal_are_forgotten(events: list[ConsentEvent]) -> None:
    states = fold(events)
    for purpose, state in states.items():
        mine = sorted((e for e in events if e.purpose == purpose), key=lambda e: e.seq)
        since = []
        for event in mine:
            since = [*since, event] if event.action == "grant" else []
        assert state.by_guardian == any(e.by == "guardian" for e in since)
        assert state.by_subject == any(e.by == "subject" for e in since)
        assert state.separate == any(not e.bundled for e in since)


@given(ledgers())
def test_applying_one_by_one_equals_folding(events: list[ConsentEvent]) -> None:
    states: dict[str, object] = {}
    for event in events:
        states[event.purpose] = apply(states.get(event.purpose, NO_CONSENT), event)  # type: ignore[arg-type]
    assert states == fold(events)


def test_withdraw_then_grant_is_granted_again() -> None:
    events = [
        ConsentEvent(1, "newsletter", "grant", 1),
        ConsentEvent(2, "newsletter", "withdraw", 2),
        ConsentEvent(3, "newsletter", "grant", 3, bundled=True),
    ]
    state = fold(events)["newsletter"]
    assert state.status == "granted"
    assert not state.separate  # only the bundled grant counts after the withdrawal


TODAY = dt.date(2026, 6, 1)
CONSENT = PurposeRule("newsletter", "consent", needs_separate=False, sale_or_sharing=True)
SEPARATE = PurposeRule("camera", "consent", needs_separate=True, sale_or_sharing=False)
CONTRACT = PurposeRule("account", "contract", needs_separate=False, sale_or_sharing=False)
INTEREST = PurposeRule("security", "legitimate_interests", False, False)
ACTIVE = SubjectStanding("active")


def granted(by: str = "subject", bundled: bool = False, version: int = 1) -> object:
    return fold([ConsentEvent(1, "x", "grant", 1, by, bundled, version)])["x"]  # type: ignore[arg-type]


def test_decisions_cover_every_legal_basis() -> None:
    assert decide(CONTRACT, ACTIVE, NO_CONSENT, TODAY).reason == "contract"
    assert decide(INTEREST, ACTIVE, NO_CONSENT, TODAY).reason == "legitimate_interests"
    assert decide(CONSENT, ACTIVE, NO_CONSENT, TODAY).reason == "no_consent"
    assert decide(CONSENT, ACTIVE, granted(), TODAY).allowed  # type: ignore[arg-type]
    assert decide(None, ACTIVE, NO_CONSENT, TODAY).reason == "unknown_purpose"


def test_erased_closed_restricted_and_objecting_subjects_are_refused() -> None:
    consent = granted()
    assert decide(CONSENT, SubjectStanding("erased"), consent, TODAY).reason == "subject_erased"  # type: ignore[arg-type]
    assert decide(CONTRACT, SubjectStanding("closed"), NO_CONSENT, TODAY).reason == "account_closed"
    restricted = SubjectStanding("active", restricted=True)
    assert decide(CONTRACT, restricted, NO_CONSENT, TODAY).reason == "subject_restricted"
    objecting = SubjectStanding("active", objections=frozenset({"security"}))
    assert decide(INTEREST, objecting, NO_CONSENT, TODAY).reason == "objection"
    assert decide(CONTRACT, objecting, NO_CONSENT, TODAY).allowed


def test_minors_need_a_guardian_then_their_own_consent() -> None:
    standing = SubjectStanding("active", minor_until=dt.date(2027, 1, 1))
    assert (
        decide(CONSENT, standing, granted("subject"), TODAY).reason == "guardian_consent_required"
    )  # type: ignore[arg-type]
    assert decide(CONSENT, standing, granted("guardian"), TODAY).allowed  # type: ignore[arg-type]
    grown_up = dt.date(2027, 1, 1)
    assert decide(CONSENT, standing, granted("guardian"), grown_up).reason == "own_consent_required"  # type: ignore[arg-type]
    assert decide(CONSENT, standing, granted("subject"), grown_up).allowed  # type: ignore[arg-type]


def test_bundled_consent_does_not_count_where_separate_consent_is_required() -> None:
    assert (
        decide(SEPARATE, ACTIVE, granted(bundled=True), TODAY).reason == "separate_consent_required"
    )  # type: ignore[arg-type]
    assert decide(SEPARATE, ACTIVE, granted(bundled=False), TODAY).allowed  # type: ignore[arg-type]


def test_consent_given_before_a_required_renewal_is_stale() -> None:
    rule = PurposeRule("newsletter", "consent", False, True, stale_before=2)
    assert decide(rule, ACTIVE, granted(), TODAY).reason == "consent_stale"  # type: ignore[arg-type]
    renewed = fold([ConsentEvent(1, "x", "grant", 5)])["x"]
    assert decide(rule, ACTIVE, renewed, TODAY).allowed


def test_minimum_ages() -> None:
    assert effective_minimum_age(["gdpr"], None) == 16
    assert effective_minimum_age(["pipl"], None) == 14
    assert effective_minimum_age(["gdpr", "pipl"], None) == 16
    assert effective_minimum_age(["pipl"], 18) == 18
    assert minor_until(dt.date(2010, 2, 28), 16) == dt.date(2026, 2, 28)
    assert minor_until(dt.date(2008, 2, 29), 18) == dt.date(2026, 3, 1)
