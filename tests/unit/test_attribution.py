from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from leadledger.projections.attribution import (
    UNATTRIBUTED,
    Conversion,
    TouchPoint,
    attribute,
    by_channel,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def test_first_touch_takes_the_earliest_touch_before_the_conversion() -> None:
    touches = {
        "L1": [
            TouchPoint(at(2), "b", "email"),
            TouchPoint(at(1), "a", "paid_search"),  # arrived late, happened first
            TouchPoint(at(9), "c", "referral"),  # after the conversion: not on the path
        ]
    }
    conversion = Conversion("deal:D1", "L1", at(5), Decimal("1200"), "EUR")
    [credit] = attribute("first_touch", [conversion], touches)
    assert (credit.touch_event_id, credit.channel, credit.weight, credit.value) == (
        "a",
        "paid_search",
        Decimal(1),
        Decimal("1200"),
    )


def test_ties_in_time_are_broken_by_event_id_so_replays_agree() -> None:
    touches = {"L1": [TouchPoint(at(1), "z", "email"), TouchPoint(at(1), "m", "display")]}
    [credit] = attribute("first_touch", [Conversion("c", "L1", at(2), Decimal(1), "EUR")], touches)
    assert credit.touch_event_id == "m"


def test_a_conversion_without_touches_is_unattributed_not_dropped() -> None:
    [credit] = attribute("first_touch", [Conversion("c", "L9", at(2), Decimal(7), "USD")], {})
    assert (credit.channel, credit.touch_event_id, credit.value) == (UNATTRIBUTED, None, Decimal(7))


def test_by_channel_sums_per_channel_and_currency() -> None:
    touches = {"L1": [TouchPoint(at(0), "a", "email")], "L2": [TouchPoint(at(0), "b", "email")]}
    conversions = [
        Conversion("c1", "L1", at(1), Decimal("10.25"), "EUR"),
        Conversion("c2", "L2", at(1), Decimal("5"), "EUR"),
        Conversion("c3", "L2", at(2), Decimal("3"), "USD"),
    ]
    rows = by_channel(attribute("first_touch", conversions, touches))
    assert [(r.channel, r.currency, r.conversions, r.revenue) for r in rows] == [
        ("email", "EUR", Decimal(2), Decimal("15.25")),
        ("email", "USD", Decimal(1), Decimal(3)),
    ]


def test_unknown_model_is_named() -> None:
    with pytest.raises(ValueError, match="unknown attribution model 'magic'; known: first_touch"):
        attribute("magic", [], {})
