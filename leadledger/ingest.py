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

from leadledger.domain.errors import RuleViolation
from leadledger.domain.lead import Lead
from leadledger.messages import DealWon, LeadCreated, Touch
from leadledger.store import EventStore, IntegrityError

IngestMessage = Touch | LeadCreated | DealWon
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
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, status: Status | Literal["dead_letter"], reason: str | None = None) -> None:
        self.received += 1
        if status == "stored":
            self.stored += 1
        elif status == "duplicate":
            self.duplicates += 1
        else:
            self.dead_lettered += 1
            kind = (reason or "unknown").split(":", 1)[0]
            self.reasons[kind] = self.reasons.get(kind, 0) + 1

    @property
    def reconciles(self) -> bool:
        return self.received == self.stored + self.duplicates + self.dead_lettered


class Ingestor:
    def __init__(self, store: EventStore, max_attempts: int = 5) -> None:
        self.store = store
        self.max_attempts = max_attempts

    def apply(self, messages: Sequence[IngestMessage]) -> list[Outcome]:
        """Apply ``messages`` in order and save them in one transaction."""
        for attempt in range(1, self.max_attempts + 1):
            touched: dict[str, Lead] = {}
            outcomes = [self._apply_one(m, touched) for m in messages]
            try:
                self.store.save(*touched.values())
            except IntegrityError:
                if attempt == self.max_attempts:
                    raise
                continue
            return outcomes
        raise AssertionError("unreachable")

    def _apply_one(self, message: IngestMessage, touched: dict[str, Lead]) -> Outcome:
        lead = touched.get(message.lead_id) or self.store.find_lead(message.lead_id)
        if lead is None:
            lead = Lead.open(message.lead_id, message.occurred_at, message.source_system)
        if lead.has_seen(message.event_id):
            return Outcome("duplicate")
        try:
            _command(lead, message)
        except RuleViolation as refusal:
            return Outcome("refused", f"funnel rule: {refusal.reason}")
        touched[message.lead_id] = lead
        return Outcome("stored")


def _command(lead: Lead, message: IngestMessage) -> None:
    """Turn one ingest message into the aggregate command it asks for."""
    event_id, occurred_at, source = message.event_id, message.occurred_at, message.source_system
    match message:
        case Touch():
            lead.record_touch(
                event_id=event_id,
                occurred_at=occurred_at,
                source_system=source,
                channel=message.channel,
                source=message.source,
                medium=message.medium,
                campaign=message.campaign,
                content=message.content,
                cost=message.cost,
            )
        case LeadCreated():
            lead.create(
                event_id=event_id,
                occurred_at=occurred_at,
                source_system=source,
                origin=message.origin,
                segment=message.segment,
            )
        case DealWon():
            lead.win_deal(
                event_id=event_id,
                occurred_at=occurred_at,
                source_system=source,
                deal_id=message.deal_id,
                amount=message.amount,
                currency=message.currency,
            )
