"""Translation from stored domain events to the Avro records of ``schemas/``.

The domain-events topic and the embedded projections both see events as (type, record)
pairs in the Avro shape, so one projection code path serves both modes. A fact's Avro
fields are its domain fields plus ``lead_id`` (the stream key of a lead) and the engine's
``recorded_at``, so the translation is generic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from eventsourcing.utils import resolve_topic

from leadledger.codec import registry
from leadledger.compression import inflate
from leadledger.domain.lead import Lead
from leadledger.domain.stream import Stream, as_utc

WireEvent = tuple[str, dict[str, Any]]
# Beside the Avro fields, a wire record as the projections see it carries the event's
# stream version under this key (from the store, or from the relay's record header): the
# lifecycle fold orders a lead's facts at one instant by it.
STREAM_VERSION = "stream_version"


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
            "occurred_at": as_utc(event.occurred_at),
            "recorded_at": as_utc(event.timestamp),
            "source_system": event.source_system,
        }
    if not isinstance(event, Stream.Fact):
        raise TypeError(f"no wire format for {type(event).__qualname__}")
    record: dict[str, Any] = {}
    for name in registry().field_names(event.NAME):
        if name == "lead_id":
            record[name] = event.stream_key if isinstance(event, Lead.Event) else None
        elif name == "recorded_at":
            record[name] = as_utc(event.timestamp)
        elif name == "occurred_at":
            record[name] = as_utc(event.occurred_at)
        else:
            record[name] = getattr(event, name)
    return event.NAME, record


def wire_key(event: object) -> str:
    """The Kafka key of a domain event: its stream's key (for a lead, the lead id)."""
    assert isinstance(event, Stream.Event)
    key: str = vars(event)["stream_key"]
    return key


# Reading stored events straight into wire records. Replays read millions of events; going
# through eventsourcing's mapper builds a domain event object per event only to take it
# apart again in ``to_wire``. ``from_stored`` parses the stored JSON once and builds the
# record directly; a test checks it gives exactly what ``to_wire`` gives for every type.
# Events stored by an older class version, and stream openings, still take the long way.

DECODERS: dict[str, Any] = {
    "datetime_iso": datetime.fromisoformat,
    "decimal_str": Decimal,
    "date_iso": date.fromisoformat,
}


@dataclass(frozen=True)
class StoredShape:
    name: str
    version: int
    fields: tuple[str, ...]
    of_lead: bool


@cache
def stored_shape(topic: str) -> StoredShape | None:
    """How to read a stored fact of ``topic`` directly (None: use the mapper)."""
    cls = resolve_topic(topic)
    if not (isinstance(cls, type) and issubclass(cls, Stream.Fact)):
        return None
    fields = tuple(registry().field_names(cls.NAME))
    return StoredShape(cls.NAME, getattr(cls, "class_version", 1), fields,
                       issubclass(cls, Lead.Event))  # fmt: skip


def from_stored(topic: str, state: bytes) -> WireEvent | None:
    """The wire event of a stored fact, or None when it needs the mapper (see above)."""
    shape = stored_shape(topic)
    if shape is None:
        return None
    data = orjson.loads(inflate(state))
    if data.get("class_version", 1) != shape.version:
        return None  # an older version: the mapper upcasts it
    record: dict[str, Any] = {}
    for name in shape.fields:
        if name == "lead_id":
            record[name] = data["stream_key"] if shape.of_lead else None
            continue
        value = data["timestamp" if name == "recorded_at" else name]
        if type(value) is dict and "_type_" in value:
            value = DECODERS[value["_type_"]](value["_data_"])
        if name in ("occurred_at", "recorded_at"):
            value = as_utc(value)
        record[name] = value
    return shape.name, record
