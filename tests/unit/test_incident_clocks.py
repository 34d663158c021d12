"""The legal clocks of an incident: which run, when they are due, and what blocks closing."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutela.domain import incidents as rules
from tutela.domain.errors import InvalidInput

UTC = dt.UTC
AWARE = dt.datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # a Friday
SETTINGS = rules.ClockSettings()
moments = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(UTC)
)


def assessed(likelihood: str, severity: str, *exempt: str) -> rules.Assessment:
    return rules.Assessment(likelihood, severity, frozenset(exempt), "because", AWARE, "cli:dpo")


def clocks(*jurisdictions: str, **facts: object) -> dict[str, rules.Clock]:
    found = rules.clocks(rules.Facts(jurisdictions, AWARE, **facts), SETTINGS)  # type: ignore[arg-type]
    return {c.key: c for c in found}


def test_gdpr_authority_within_72_hours_and_subjects_without_undue_delay() -> None:
    found = clocks("gdpr")
    assert found["gdpr.authority"].due == AWARE + dt.timedelta(hours=72)
    assert found["gdpr.authority"].binding
    subjects = found["gdpr.subjects"]
    assert subjects.standard == "without undue delay"
    assert not subjects.binding  # the law gives no number; the target is configurable
    assert subjects.due == AWARE + dt.timedelta(hours=SETTINGS.gdpr_subject_hours)


def test_pipl_is_held_to_the_configured_hours() -> None:
    found = rules.clocks(rules.Facts(("pipl",), AWARE), rules.ClockSettings(pipl_hours=1))
    assert {c.key: c.due for c in found} == {
        "pipl.authority": AWARE + dt.timedelta(hours=1),
        "pipl.subjects": AWARE + dt.timedelta(hours=1),
    }
    assert clocks("pipl")["pipl.authority"].due == AWARE + dt.timedelta(hours=4)


def test_lgpd_counts_business_days() -> None:
    found = clocks("lgpd")
    # Friday 09:30 + 3 business days = Wednesday 09:30 (the weekend does not count)
    assert found["lgpd.authority"].due == dt.datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
    assert found["lgpd.subjects"].due == found["lgpd.authority"].due
    small = rules.clocks(rules.Facts(("lgpd",), AWARE), rules.ClockSettings(lgpd_business_days=6))
    assert small[0].due == dt.datetime(2026, 3, 16, 9, 30, tzinfo=UTC)


def test_california_30_days_and_the_attorney_general_only_above_500() -> None:
    found = clocks("ccpa", subjects=501)
    assert found["ccpa.subjects"].due == AWARE + dt.timedelta(days=30)
    assert found["ccpa.authority"].due == AWARE + dt.timedelta(days=45)  # 15 days after
    told = AWARE + dt.timedelta(days=3)
    found = clocks("ccpa", subjects=501, met={"ccpa.subjects": told})
    assert found["ccpa.authority"].due == told + dt.timedelta(days=15)
    few = clocks("ccpa", subjects=500)
    assert few["ccpa.subjects"].running
    assert not few["ccpa.authority"].running
    encrypted = clocks("ccpa", subjects=10_000, encrypted=True)
    assert not encrypted["ccpa.subjects"].running
    assert "1798.82(a)" in (encrypted["ccpa.subjects"].not_required or "")


def test_until_assessed_every_clock_runs() -> None:
    found = clocks("gdpr", "pipl", "ccpa", "lgpd")
    assert len(found) == 8
    assert all(c.running for c in found.values())


@pytest.mark.parametrize(
    ("likelihood", "severity", "exempt", "authority", "subjects"),
    [
        ("unlikely", "low", (), False, False),  # art. 33(1): unlikely to result in a risk
        ("possible", "medium", (), True, False),  # a risk, not a high one: art. 34(1)
        ("likely", "high", (), True, True),
        ("likely", "high", ("encrypted",), True, False),  # art. 34(3)(a)
        ("likely", "high", ("mitigated",), True, False),  # art. 34(3)(b)
    ],
)
def test_the_risk_decision_decides_the_gdpr_clocks(
    likelihood: str, severity: str, exempt: tuple[str, ...], authority: bool, subjects: bool
) -> None:
    found = clocks("gdpr", encrypted=True, assessment=assessed(likelihood, severity, *exempt))
    assert found["gdpr.authority"].running is authority
    assert found["gdpr.subjects"].running is subjects
    if not subjects:
        assert found["gdpr.subjects"].not_required


def test_disproportionate_effort_means_a_public_communication() -> None:
    found = clocks("gdpr", assessment=assessed("likely", "high", "disproportionate"))
    assert found["gdpr.subjects"].running
    assert found["gdpr.subjects"].public


def test_pipl_subjects_need_not_be_told_when_harm_is_avoided() -> None:
    found = clocks("pipl", assessment=assessed("unlikely", "low", "mitigated"))
    assert found["pipl.authority"].running  # PIPL has no risk threshold for the authority
    assert not found["pipl.subjects"].running


def test_exemptions_are_checked() -> None:
    with pytest.raises(InvalidInput, match="unknown exemption"):
        rules.check_exemptions(["lucky"], encrypted=False)
    with pytest.raises(InvalidInput, match="encrypted with keys"):
        rules.check_exemptions(["encrypted"], encrypted=False)
    with pytest.raises(InvalidInput, match="likelihood"):
        rules.risk_level("certain", "high")


def test_status_of_a_clock() -> None:
    clock = clocks("gdpr")["gdpr.authority"]
    assert clock.status(AWARE + dt.timedelta(hours=1)) == "on_time"
    assert clock.status(AWARE + dt.timedelta(hours=60)) == "due_soon"
    assert clock.status(AWARE + dt.timedelta(hours=73)) == "overdue"
    late = clocks("gdpr", met={"gdpr.authority": AWARE + dt.timedelta(hours=80)})
    assert late["gdpr.authority"].status(AWARE) == "met_late"
    on_time = clocks("gdpr", met={"gdpr.authority": AWARE + dt.timedelta(hours=10)})
    assert on_time["gdpr.authority"].status(AWARE + dt.timedelta(days=9)) == "met"


def test_overdue_incidents_sort_first() -> None:
    now = AWARE + dt.timedelta(hours=100)
    overdue = rules.clocks(rules.Facts(("gdpr",), AWARE), SETTINGS)
    recent = rules.clocks(rules.Facts(("gdpr",), now - dt.timedelta(hours=1)), SETTINGS)
    more_overdue = rules.clocks(rules.Facts(("gdpr",), AWARE - dt.timedelta(days=2)), SETTINGS)
    done = rules.clocks(
        rules.Facts(
            ("gdpr",),
            AWARE,
            assessment=assessed("unlikely", "low"),
        ),
        SETTINGS,
    )
    order = sorted(
        [("recent", recent), ("done", done), ("overdue", overdue), ("more", more_overdue)],
        key=lambda item: rules.urgency(item[1], now),
    )
    assert [name for name, _ in order] == ["more", "overdue", "recent", "done"]


def test_closing_needs_every_clock_met_and_reasons_for_late_ones() -> None:
    found = rules.clocks(rules.Facts(("gdpr",), AWARE), SETTINGS)
    problems = rules.closing_problems(found, assessed=False)
    assert problems[0].startswith("no risk assessment")
    assert any("gdpr.authority: the authority has not been told" in p for p in problems)
    late = AWARE + dt.timedelta(hours=90)
    met = {"gdpr.authority": late, "gdpr.subjects": AWARE + dt.timedelta(hours=5)}
    found = rules.clocks(rules.Facts(("gdpr",), AWARE, met=met), SETTINGS)
    assert rules.closing_problems(found, assessed=True) == [
        "gdpr.authority: met late; record the reasons for the delay"
    ]
    reasons = {"gdpr.authority": "the forensic review took four days"}
    found = rules.clocks(rules.Facts(("gdpr",), AWARE, met=met, delay_reasons=reasons), SETTINGS)
    assert rules.closing_problems(found, assessed=True) == []


@given(aware=moments)
def test_gdpr_deadline_is_always_72_hours_after_awareness(aware: dt.datetime) -> None:
    found = rules.clocks(rules.Facts(("gdpr",), aware), SETTINGS)
    assert found[0].due is not None
    assert found[0].due - aware == dt.timedelta(hours=72)


@given(aware=moments, days=st.integers(min_value=1, max_value=20))
def test_lgpd_deadline_is_that_many_weekdays_later(aware: dt.datetime, days: int) -> None:
    settings = rules.ClockSettings(lgpd_business_days=days)
    due = rules.clocks(rules.Facts(("lgpd",), aware), settings)[0].due
    assert due is not None
    assert due.weekday() < 5
    assert due.time() == aware.time()
    weekdays = sum(
        1
        for n in range(1, (due.date() - aware.date()).days + 1)
        if (aware.date() + dt.timedelta(days=n)).weekday() < 5
    )
    assert weekdays == days


@given(
    aware=moments,
    likelihood=st.sampled_from(rules.LIKELIHOODS),
    severity=st.sampled_from(rules.SEVERITIES),
    exempt=st.sets(st.sampled_from(sorted(rules.EXEMPTIONS))),
    jurisdictions=st.lists(st.sampled_from(rules.JURISDICTIONS), min_size=1, unique=True),
)
def test_no_clock_is_due_before_awareness_and_stopped_ones_say_why(
    aware: dt.datetime,
    likelihood: str,
    severity: str,
    exempt: set[str],
    jurisdictions: list[str],
) -> None:
    assessment = rules.Assessment(likelihood, severity, frozenset(exempt), "r", aware, "a")
    found = rules.clocks(rules.Facts(tuple(jurisdictions), aware, True, None, assessment), SETTINGS)
    assert {c.jurisdiction for c in found} == set(jurisdictions)
    for clock in found:
        if clock.running:
            assert clock.due is not None
            assert clock.due > aware
            assert clock.not_required is None
        else:
            assert clock.not_required
    if rules.risk_level(likelihood, severity) == "none":
        assert not any(c.running for c in found if c.key in ("gdpr.authority", "lgpd.authority"))
