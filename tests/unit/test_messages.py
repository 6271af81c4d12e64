from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from leadledger.messages import DealWon, InvalidEvent, Touch, from_record, parse_event


def deal(**changes: Any) -> dict[str, Any]:
    data = {
        "type": "deal_won",
        "event_id": "w1",
        "lead_id": "L1",
        "occurred_at": "2026-01-10T16:00:00+03:00",
        "source_system": "crm",
        "deal_id": "D1",
        "amount": "1000.50",
        "currency": "EUR",
    }
    return data | changes


def test_valid_deal_keeps_its_time_zone_and_exact_amount() -> None:
    event = parse_event(deal())
    assert isinstance(event, DealWon)
    assert event.amount == Decimal("1000.50")
    assert event.occurred_at.utcoffset() == timedelta(hours=3)


def test_to_record_normalises_time_to_utc() -> None:
    event = parse_event(deal())
    assert event.to_record()["occurred_at"] == datetime(2026, 1, 10, 13, 0, tzinfo=UTC)
    assert event.to_record()["recorded_at"] is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"occurred_at": "2026-01-10T16:00:00"},
            "deal_won.occurred_at: Input should have timezone info",
        ),
        ({"currency": "eur"}, "deal_won.currency: String should match pattern"),
        (
            {"amount": "1.23456"},
            "deal_won.amount: Decimal input should have no more than 4 decimal places",
        ),
        ({"amount": "-5"}, "deal_won.amount: Input should be greater than or equal to 0"),
        ({"event_id": ""}, "deal_won.event_id: String should have at least 1 character"),
        ({"colour": "red"}, "deal_won.colour: Extra inputs are not permitted"),
        (
            {"type": "visit"},
            "Input tag 'visit' found using 'type' does not match any of the expected tags",
        ),
    ],
)
def test_invalid_records_name_the_field_and_the_rule(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(")):
        parse_event(deal(**changes))


def test_avro_record_round_trips_through_the_model() -> None:
    touch = Touch(
        event_id="t1",
        lead_id="L1",
        occurred_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        source_system="web",
        channel="organic_search",
    )
    again = from_record("touch", touch.to_record())
    assert again == touch
