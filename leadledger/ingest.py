"""Applying validated ingest events to Lead aggregates: the one write path of both modes.

A batch is applied to the aggregates it names and saved in one transaction. Each event
gets an outcome: stored, a duplicate of a stored event id, or refused with the funnel
rule's reason. A concurrent writer (optimistic-concurrency conflict) makes the whole
batch reload and retry, so nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from leadledger.catalogue import ROUTES
from leadledger.domain.errors import RuleViolation
from leadledger.domain.stream import Stream
from leadledger.messages import IngestEvent
from leadledger.store import EventStore, IntegrityError

Status = Literal["stored", "duplicate", "refused"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str | None = None


@dataclass
class Tally:
    """How many records went where: received always equals the sum of the others."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    parked: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, status: str, reason: str | None = None) -> None:
        self.received += 1
        self._count(status, reason)

    def settle_parked(self, status: str, reason: str | None = None) -> None:
        """A record counted as parked has reached its fate. One parked by an earlier run
        re-enters this run's accounting as received now."""
        if self.parked:
            self.parked -= 1
        else:
            self.received += 1
        self._count(status, reason)

    def _count(self, status: str, reason: str | None) -> None:
        if status == "stored":
            self.stored += 1
        elif status == "duplicate":
            self.duplicates += 1
        elif status == "parked":
            self.parked += 1
        else:
            self.dead_lettered += 1
            kind = (reason or "unknown").split(":", 1)[0]
            self.reasons[kind] = self.reasons.get(kind, 0) + 1

    @property
    def reconciles(self) -> bool:
        return self.received == self.stored + self.duplicates + self.dead_lettered + self.parked


class Ingestor:
    def __init__(self, store: EventStore, max_attempts: int = 5) -> None:
        self.store = store
        self.max_attempts = max_attempts

    def apply(self, messages: Sequence[IngestEvent]) -> list[Outcome]:
        """Apply ``messages`` in order and save them in one transaction."""
        for attempt in range(1, self.max_attempts + 1):
            self.store.sync()  # the cached streams as the log holds them now
            touched: dict[tuple[str, str], Stream] = {}
            try:
                outcomes = [self._apply_one(m, touched) for m in messages]
            except BaseException:
                self.store.forget(touched.values())  # they hold events never saved
                raise
            try:
                self.store.save(*touched.values())
            except IntegrityError:
                if attempt == self.max_attempts:
                    raise
                continue
            return outcomes
        raise AssertionError("unreachable")

    def _apply_one(self, message: IngestEvent, touched: dict[tuple[str, str], Stream]) -> Outcome:
        route = ROUTES[message.type].of(message)
        key = route.key(message)
        slot = (route.stream.KIND, key)
        stream = touched.get(slot) or self.store.find(route.stream, key)
        if stream is None:
            stream = route.stream.open(key, message.occurred_at, message.source_system)
        if stream.has_seen(message.source_system, message.event_id):
            return Outcome("duplicate")
        try:
            stream.record(route.fact, **message.fields())
        except RuleViolation as refusal:
            return Outcome("refused", f"funnel rule: {refusal.reason}")
        touched[slot] = stream
        return Outcome("stored")
