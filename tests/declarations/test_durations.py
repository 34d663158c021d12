from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutela.declarations import Duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3Y", Duration(years=3)),
        ("P1Y6M", Duration(years=1, months=6)),
        ("P2W", Duration(weeks=2)),
        ("P30D", Duration(days=30)),
        ("PT12H", Duration(hours=12)),
        ("P1DT2H3M4S", Duration(days=1, hours=2, minutes=3, seconds=4)),
        ("P0D", Duration()),
    ],
)
def test_parse(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["", "P", "PT", "3Y", "P3", "P1.5Y", "p3y", "P1YT", "P-1D"])
def test_reject(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


def test_add_to_follows_the_calendar() -> None:
    assert parse_duration("P1M").add_to(datetime(2024, 1, 31)) == datetime(2024, 2, 29)
    assert parse_duration("P1Y").add_to(datetime(2024, 2, 29)) == datetime(2025, 2, 28)
    assert parse_duration("P1Y2M3DT4H").add_to(datetime(2023, 11, 30, 22)) == datetime(
        2025, 2, 3, 2
    )


@given(st.builds(Duration, *[st.integers(0, 500)] * 7))
def test_text_round_trip(duration: Duration) -> None:
    assert parse_duration(str(duration)).approx_days() == duration.approx_days()
    assert str(parse_duration(str(duration))) == str(duration)
