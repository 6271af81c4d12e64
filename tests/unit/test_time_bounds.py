"""Times outside the stated range, and numbers posing as times, are refused at validation
(issue 11, point 3): such a record used to be stored and then stop the projection with
OverflowError, every run."""

from datetime import UTC, datetime
from typing import Any

import pytest

from leadledger.codec import registry
from leadledger.messages import InvalidEvent, from_record, parse_event

TOUCH = {"type": "touch", "event_id": "t1", "source_system": "web", "channel": "email",
         "lead_id": "L1"}  # fmt: skip
SPEND = {"type": "spend", "event_id": "s1", "source_system": "ads", "channel": "email",
         "occurred_at": "2026-01-02T00:00:00Z", "amount": "1", "currency": "EUR"}  # fmt: skip
RANGE = "is outside the accepted times, 1970-01-01T00:00:00Z to 2999-12-31T23:59:59Z"
NUMBER = (
    "a number is not a time: send ISO 8601 text, e.g. 2026-03-01T12:00:00Z "
    "(a time carries its zone)"
)


@pytest.mark.parametrize(
    ("occurred_at", "reason"),
    [
        ("0001-01-01T00:30:00+01:00", f"0001-01-01T00:30:00+01:00 {RANGE}"),
        ("9999-12-31T23:59:59-01:00", f"9999-12-31T23:59:59-01:00 {RANGE}"),
        ("1969-12-31T23:59:59Z", f"1969-12-31T23:59:59+00:00 {RANGE}"),
        ("1970-01-01T05:00:00+14:00", f"1970-01-01T05:00:00+14:00 {RANGE}"),  # 1969 in UTC
        ("3000-01-01T00:00:00Z", f"3000-01-01T00:00:00+00:00 {RANGE}"),
        ("2026-01-01T00:00:00+14:30", "UTC offset +14:30 is outside -14:00..+14:00"),
        ("2026-01-01T00:00:00-23:59", "UTC offset -23:59 is outside -14:00..+14:00"),
        (1700000000, NUMBER),
        (1.7e9, NUMBER),
        ("1700000000", NUMBER),
        ("2026-01-01T00:00:00", "Input should have timezone info"),
    ],
)
def test_a_time_out_of_range_or_without_a_zone_is_refused(occurred_at: Any, reason: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse_event(TOUCH | {"occurred_at": occurred_at})
    assert str(refused.value) == f"touch.occurred_at: {reason}"


@pytest.mark.parametrize(
    "occurred_at",
    ["1970-01-01T00:00:00Z", "2999-12-31T23:59:59.999999Z", "2026-06-01T12:00:00-14:00",
     "2026-06-01T12:00:00+14:00", "2026-06-01T12:00:00+05:30"],
)  # fmt: skip
def test_times_at_the_bounds_are_accepted(occurred_at: str) -> None:
    message = parse_event(TOUCH | {"occurred_at": occurred_at})
    assert message.occurred_at == datetime.fromisoformat(occurred_at)


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("0001-01-01", "0001-01-01 is outside the accepted days, 1970-01-01 to 2999-12-31"),
        ("3000-01-01", "3000-01-01 is outside the accepted days, 1970-01-01 to 2999-12-31"),
        (20000, "a number is not a day: send ISO 8601 text, e.g. 2026-03-01"),
    ],
)
def test_a_spend_day_out_of_range_is_refused(day: Any, reason: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse_event(SPEND | {"day": day})
    assert str(refused.value) == f"spend.day: {reason}"


def test_an_avro_record_out_of_range_is_refused_like_a_file_line() -> None:
    schemas = registry()
    record = parse_event(TOUCH | {"occurred_at": "2026-01-01T00:00:00Z"}).to_record()
    record["occurred_at"] = datetime(1, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidEvent) as refused:
        from_record(*schemas.decode(schemas.encode("touch", record)))
    assert str(refused.value) == f"touch.occurred_at: 0001-01-01T00:00:00+00:00 {RANGE}"
