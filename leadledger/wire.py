"""Translation between stored domain events and the Avro records of ``schemas/``.

The domain-events topic and the embedded projection both see events as (type, record)
pairs in the Avro shape, so one projection code path serves both modes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import singledispatch
from typing import Any

from leadledger.domain.lead import Lead

WireEvent = tuple[str, dict[str, Any]]


def opened_event_id(lead_key: str) -> str:
    """The event id of the engine's own stream-opening event: stable across re-sends."""
    return f"lead_opened:{lead_key}"


@singledispatch
def to_wire(event: object) -> WireEvent:
    raise TypeError(f"no wire format for {type(event).__qualname__}")


def utc(moment: datetime) -> datetime:
    """Avro timestamps are UTC instants; normalising here makes both modes agree exactly."""
    return moment.astimezone(UTC)


def _common(event: Lead.Fact) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "lead_id": event.lead_key,
        "occurred_at": utc(event.occurred_at),
        "recorded_at": utc(event.timestamp),
        "source_system": event.source_system,
    }


@to_wire.register
def _(event: Lead.Opened) -> WireEvent:
    return "lead_opened", {
        "event_id": opened_event_id(event.lead_key),
        "lead_id": event.lead_key,
        "occurred_at": utc(event.occurred_at),
        "recorded_at": utc(event.timestamp),
        "source_system": event.source_system,
    }


@to_wire.register
def _(event: Lead.TouchRecorded) -> WireEvent:
    return "touch", _common(event) | {
        "channel": event.channel,
        "source": event.source,
        "medium": event.medium,
        "campaign": event.campaign,
        "content": event.content,
        "cost": event.cost,
    }


@to_wire.register
def _(event: Lead.Created) -> WireEvent:
    return "lead_created", _common(event) | {"origin": event.origin, "segment": event.segment}


@to_wire.register
def _(event: Lead.DealWon) -> WireEvent:
    return "deal_won", _common(event) | {
        "deal_id": event.deal_id,
        "amount": event.amount,
        "currency": event.currency,
    }
