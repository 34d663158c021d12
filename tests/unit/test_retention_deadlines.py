"""Deadlines answer exactly as ``expiry`` does, whatever the rules, starts and moment."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.declarations.durations import Duration
from tutela.domain.retention import Deadlines, Events, Rule, expiry, latest_start

MICROS = 1_000_000
EPOCH_2020 = int(dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp() * MICROS)
SPAN = 8 * 365 * 86400 * MICROS

durations = st.builds(
    Duration,
    years=st.integers(0, 3),
    months=st.integers(0, 14),
    weeks=st.integers(0, 3),
    days=st.integers(0, 40),
    hours=st.integers(0, 30),
)
starts = st.sampled_from(["collected", "last_activity", "account_closed", "purpose_ended"])
moments = st.integers(EPOCH_2020, EPOCH_2020 + SPAN)


def rule(index: int, duration: Duration, after: str, then: str) -> Rule:
    length = int(duration.approx_days() * 86400 * MICROS)
    return Rule(f"p{index}", duration.add_to, str(duration), after, then, length)


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(
        st.tuples(durations, starts, st.sampled_from(["delete", "anonymize"])),
        min_size=1,
        max_size=4,
    ),
    collected=moments,
    activity=moments,
    closed=st.none() | moments,
    ended=st.none() | moments,
    now=moments,
)
def test_deadlines_agree_with_expiry(
    specs: list[tuple[Duration, str, str]],
    collected: int,
    activity: int,
    closed: int | None,
    ended: int | None,
    now: int,
) -> None:
    rules = [rule(i, d, after, then) for i, (d, after, then) in enumerate(specs)]
    endings = {r.purpose: ended for r in rules} if ended is not None else None
    events = Events(activity, closed, None, endings)
    moment = dt.datetime.fromtimestamp(now / MICROS, tz=dt.UTC)
    exact = expiry("c", collected, rules, events, moment)
    fast = Deadlines(moment).due("c", collected, rules, events)
    assert exact is not None
    if not exact.due:
        assert fast is None
    else:
        assert fast is not None
        assert (fast.rule, fast.then) == (exact.rule, exact.then)


@settings(max_examples=200, deadline=None)
@given(duration=durations, now=moments)
def test_the_latest_start_is_the_last_moment_a_period_could_begin(
    duration: Duration, now: int
) -> None:
    moment = dt.datetime.fromtimestamp(now / MICROS, tz=dt.UTC)
    latest = latest_start(duration.add_to, moment)

    def ended(micros: int) -> bool:
        return duration.add_to(dt.datetime.fromtimestamp(micros / MICROS, tz=dt.UTC)) <= moment

    assert ended(latest)
    assert not ended(latest + 1)
