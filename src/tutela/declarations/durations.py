"""ISO 8601 durations as used for retention periods (``P3Y``, ``P6M``, ``P30D``, ``PT12H``)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)

#: Regular expression for the JSON Schema (same language as :func:`parse_duration`).
DURATION_PATTERN = re.sub(r"\?P<\w+>", "", _PATTERN.pattern)


@dataclass(frozen=True, order=True)
class Duration:
    """A calendar duration: years and months are added by the calendar, the rest exactly."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    def add_to(self, moment: datetime) -> datetime:
        """Return ``moment`` plus this duration; the 31st plus one month clamps to month end."""
        total_months = moment.month - 1 + self.months + 12 * self.years
        year = moment.year + total_months // 12
        month = total_months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day) + self.exact()

    def exact(self) -> timedelta:
        """The part of the duration that has a fixed length (weeks and below)."""
        return timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )

    def approx_days(self) -> float:
        """Length in days, counting a year as 365.25 days and a month as 30.44 days."""
        return self.years * 365.25 + self.months * 30.44 + self.exact().total_seconds() / 86400

    def __str__(self) -> str:
        date = "".join(
            f"{value}{unit}"
            for value, unit in (
                (self.years, "Y"),
                (self.months, "M"),
                (self.weeks, "W"),
                (self.days, "D"),
            )
            if value
        )
        time = "".join(
            f"{value}{unit}"
            for value, unit in ((self.hours, "H"), (self.minutes, "M"), (self.seconds, "S"))
            if value
        )
        if not date and not time:
            return "P0D"
        return "P" + date + (f"T{time}" if time else "")


def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 duration such as ``P3Y`` or ``P1Y6M``; raise ``ValueError`` if bad."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration")
    return Duration(**{name: int(value) for name, value in match.groupdict().items() if value})
