"""SLA clock time: around the clock, or business hours on a calendar.

A business-hours calendar has a time zone, working days, opening hours and holidays.
Working time is counted in real elapsed seconds between UTC instants: each working day's
opening and closing are local wall times turned into instants, so a clock that spans a
daylight-saving change counts the hours that really passed, and a holiday counts nothing
whatever its length.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # a deadline further than ten years ahead means the calendar has no hours


@dataclass(frozen=True)
class Calendar:
    """When SLA clocks run. ``zone`` None means around the clock (every second counts)."""

    zone: ZoneInfo | None = None
    working_days: frozenset[int] = frozenset(range(5))  # Monday is 0
    opens: time = time(9)
    closes: time = time(17)
    holidays: Container[date] = field(default_factory=frozenset)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Clock seconds between two instants (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        if self.zone is None:
            return (end - start).total_seconds()
        total = 0.0
        for opening, closing in self._intervals(start):
            if opening >= end:
                break
            total += (min(closing, end) - max(opening, start)).total_seconds()
        return total

    def deadline(self, start: datetime, seconds: float) -> datetime:
        """The instant at which a clock started at ``start`` has run ``seconds``."""
        if self.zone is None:
            return start + timedelta(seconds=seconds)
        remaining = timedelta(seconds=seconds)
        for opening, closing in self._intervals(start):
            begin = max(opening, start)
            if closing - begin >= remaining:
                return begin + remaining
            remaining -= closing - begin
        raise ValueError(f"the calendar has no working hours in the {MAX_DAYS} days after {start}")

    def _intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) that end after ``start``, in order."""
        assert self.zone is not None
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            if day.weekday() in self.working_days and day not in self.holidays:
                opening = datetime.combine(day, self.opens, self.zone).astimezone(UTC)
                closing = datetime.combine(day, self.closes, self.zone).astimezone(UTC)
                if closing > start:
                    yield opening, closing
            day += timedelta(days=1)


AROUND_THE_CLOCK = Calendar()
