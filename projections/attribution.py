"""Attribution models: who gets credit for a conversion, given the lead's touch path.

Each model is a pure function from a conversion and its path to credits. Credits of one
conversion are never negative and their weights sum to one, so values sum to the
conversion's value. Paths are ordered by event time, ties broken by event id, so the
same inputs always give the same credits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

UNATTRIBUTED = "(unattributed)"


@dataclass(frozen=True, order=True)
class TouchPoint:
    occurred_at: datetime
    event_id: str
    channel: str


@dataclass(frozen=True)
class Conversion:
    conversion_id: str
    lead_id: str
    occurred_at: datetime
    value: Decimal
    currency: str


@dataclass(frozen=True)
class Credit:
    """One row of the credit ledger: which touch earned what share of which conversion."""

    conversion_id: str
    touch_event_id: str | None
    channel: str
    weight: Decimal
    value: Decimal
    currency: str


def first_touch(conversion: Conversion, path: Sequence[TouchPoint]) -> list[Credit]:
    """All credit to the earliest touch before the conversion."""
    if not path:
        return [_credit(conversion, None, UNATTRIBUTED, Decimal(1))]
    first = path[0]
    return [_credit(conversion, first.event_id, first.channel, Decimal(1))]


Model = Callable[[Conversion, Sequence[TouchPoint]], list[Credit]]
MODELS: Mapping[str, Model] = {"first_touch": first_touch}


def attribute(
    model: str,
    conversions: Iterable[Conversion],
    touches: Mapping[str, Sequence[TouchPoint]],
) -> list[Credit]:
    """Credits of every conversion under ``model``, in conversion order.

    A conversion's path is its lead's touches that happened at or before it.
    """
    try:
        fn = MODELS[model]
    except KeyError:
        raise ValueError(
            f"unknown attribution model {model!r}; known: {', '.join(sorted(MODELS))}"
        ) from None
    credits: list[Credit] = []
    ordered = sorted(conversions, key=lambda c: (as_utc(c.occurred_at), c.conversion_id))
    for conversion in ordered:
        at = as_utc(conversion.occurred_at)
        path = [
            t for t in sorted(touches.get(conversion.lead_id, ())) if as_utc(t.occurred_at) <= at
        ]
        credits.extend(fn(conversion, path))
    return credits


@dataclass(frozen=True)
class ChannelCredit:
    channel: str
    currency: str
    conversions: Decimal
    revenue: Decimal


def by_channel(credits: Iterable[Credit]) -> list[ChannelCredit]:
    """Credits summed per channel and currency, sorted by channel then currency."""
    totals: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for credit in credits:
        key = (credit.channel, credit.currency)
        count, revenue = totals.get(key, (Decimal(0), Decimal(0)))
        totals[key] = (count + credit.weight, revenue + credit.value)
    return [
        ChannelCredit(channel, currency, count, revenue)
        for (channel, currency), (count, revenue) in sorted(totals.items())
    ]


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything leadledger stores is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _credit(
    conversion: Conversion, touch_event_id: str | None, channel: str, weight: Decimal
) -> Credit:
    return Credit(
        conversion.conversion_id,
        touch_event_id,
        channel,
        weight,
        conversion.value * weight,
        conversion.currency,
    )
