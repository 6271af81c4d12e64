"""Translation from stored domain events to the Avro records of ``schemas/``.

The domain-events topic and the embedded projections both see events as (type, record)
pairs in the Avro shape, so one projection code path serves both modes. A fact's Avro
fields are its domain fields plus ``lead_id`` (the stream key of a lead) and the engine's
``recorded_at``, so the translation is generic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.utils import resolve_topic

from leadledger.codec import registry
from leadledger.domain.lead import Lead
from leadledger.domain.stream import Stream

WireEvent = tuple[str, dict[str, Any]]


def utc(moment: datetime) -> datetime:
    """Avro timestamps are UTC instants; normalising here makes both modes agree exactly."""
    return moment.astimezone(UTC)


def opened_event_id(kind: str, key: str) -> str:
    """The event id of the engine's own stream-opening event: stable across re-sends."""
    return f"opened:{kind}:{key}"


def to_wire(event: object) -> WireEvent:
    if isinstance(event, Stream.Opened):
        kind = resolve_topic(event.originator_topic).KIND
        return "stream_opened", {
            "event_id": opened_event_id(kind, event.stream_key),
            "stream": kind,
            "key": event.stream_key,
            "occurred_at": utc(event.occurred_at),
            "recorded_at": utc(event.timestamp),
            "source_system": event.source_system,
        }
    if not isinstance(event, Stream.Fact):
        raise TypeError(f"no wire format for {type(event).__qualname__}")
    record: dict[str, Any] = {}
    for name in registry().field_names(event.NAME):
        if name == "lead_id":
            record[name] = event.stream_key if isinstance(event, Lead.Event) else None
        elif name == "recorded_at":
            record[name] = utc(event.timestamp)
        elif name == "occurred_at":
            record[name] = utc(event.occurred_at)
        else:
            record[name] = getattr(event, name)
    return event.NAME, record


def wire_key(event: object) -> str:
    """The Kafka key of a domain event: its stream's key (for a lead, the lead id)."""
    assert isinstance(event, Stream.Event)
    key: str = vars(event)["stream_key"]
    return key
