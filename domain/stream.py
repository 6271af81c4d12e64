"""What every leadledger aggregate shares: a stream per key, deduplicated by idempotency key.

A stream is opened by the engine on the first fact that names its key. Facts reported by
source systems carry the producer's idempotency key, ``(source_system, event_id)``, and a
stream never records one key twice (intake also keeps the keys unique across streams).
Events are explicit nested classes rather than derived from method signatures, because
they are a public contract: renaming a parameter must never change a stored event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar, Self, cast
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.domain import Aggregate

from leadledger.domain.errors import RuleViolation

STREAM_NAMESPACE = uuid5(NAMESPACE_URL, "https://leadledger.dev/stream")


@lru_cache(maxsize=1 << 17)
def stream_uuid(kind: str, key: str) -> UUID:
    """The aggregate id of a stream key: stable, so every process finds the same stream.
    Cached: ingest asks it of every fact, and a stream's facts come close together."""
    return uuid5(STREAM_NAMESPACE, f"{kind}:{key}")


def as_utc(moment: datetime) -> datetime:
    """The UTC instant of ``moment``; a naive time (as SQLite returns them) is taken as UTC.
    The one helper for this: every time the engine compares or stores is a UTC instant."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def idempotency_key(source_system: str, event_id: str) -> str:
    """The producer's key of a fact as one string (JSON, so no separator can collide)."""
    return orjson.dumps([source_system, event_id]).decode()


def rename_v1_lead_key(state: dict[str, Any]) -> None:
    """Version 1 events (the walking skeleton) named the stream key ``lead_key``."""
    state["stream_key"] = state.pop("lead_key")


class Stream(Aggregate):
    """Base of the aggregates: a keyed stream of facts, each recorded once."""

    KIND: ClassVar[str]

    class Event(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            stream = cast(Stream, aggregate)
            if isinstance(self, Stream.Fact):
                stream.seen_keys.add(idempotency_key(self.source_system, self.event_id))
            stream.when(self)

    class Fact(Event):
        """A fact reported by a source system. ``NAME`` is its event type on the wire."""

        NAME: ClassVar[str]
        stream_key: str
        event_id: str
        occurred_at: datetime
        source_system: str

    class Touched(Fact):
        """A touch's fields, declared once: a lead's touch and a visitor's are one event
        type on the wire (``touch``), recorded on either stream."""

        channel: str
        source: str | None
        medium: str | None
        campaign: str | None
        content: str | None
        keyword: str | None
        cost: Decimal | None
        kind: str
        anonymous_id: str | None

    class Opened(Aggregate.Created, Event):
        """The engine opened this key's stream, on the first fact that named it."""

        class_version = 2
        stream_key: str
        occurred_at: datetime
        source_system: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            rename_v1_lead_key(state)

    @classmethod
    def open(cls, key: str, occurred_at: datetime, source_system: str) -> Self:
        return cls._create(
            cls.Opened,
            id=stream_uuid(cls.KIND, key),
            stream_key=key,
            occurred_at=occurred_at,
            source_system=source_system,
        )

    def has_seen(self, source_system: str, event_id: str) -> bool:
        """True if a fact with this idempotency key is already in the stream."""
        return idempotency_key(source_system, event_id) in self.seen_keys

    def record(self, fact: type[Fact], /, **fields: Any) -> None:
        """Record one fact, or raise :class:`RuleViolation` saying why it is refused."""
        self.check(fact, fields)
        self.trigger_event(fact, stream_key=self.stream_key, **fields)

    def check(self, fact: type[Fact], fields: dict[str, Any]) -> None:
        """Aggregates with rules extend this; the base stream accepts its own facts."""
        if not issubclass(fact, type(self).Fact):
            raise RuleViolation(f"a {self.KIND} stream does not record {fact.NAME} events")

    def when(self, event: Event) -> None:
        """Change state for ``event``; aggregates extend this for their own facts."""
        if isinstance(event, Stream.Opened):
            self.stream_key = event.stream_key
            self.seen_keys: set[str] = set()
