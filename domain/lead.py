"""The Lead aggregate: one stream per lead key, holding every fact about that lead.

Events are explicit nested classes applied by ``singledispatchmethod`` handlers (as in
eventsourcing's cargo-shipping example) because they are a public contract: renaming a
method parameter must never silently change a stored event.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import singledispatchmethod
from typing import cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from leadledger.domain.errors import RuleViolation

LEAD_NAMESPACE = uuid5(NAMESPACE_URL, "https://leadledger.dev/lead")


def lead_uuid(lead_key: str) -> UUID:
    """The aggregate id of a lead key: stable, so any process finds the same stream."""
    return uuid5(LEAD_NAMESPACE, lead_key)


class Stage(StrEnum):
    """Where a lead stands. A stream exists before the lead does, to hold early touches."""

    VISITOR = "visitor"
    LEAD = "lead"
    WON = "won"


class Lead(Aggregate):
    """A lead's whole journey: touches, creation and won deals, deduplicated by event id."""

    class Event(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            cast(Lead, aggregate).when(self)

    class Fact(Event):
        """A fact reported by a source system, carrying the producer's idempotency key."""

        lead_key: str
        event_id: str
        occurred_at: datetime
        source_system: str

    class Opened(Aggregate.Created, Event):
        """The engine opened this lead key's stream, on the first fact that named it."""

        lead_key: str
        occurred_at: datetime
        source_system: str

    class TouchRecorded(Fact):
        channel: str
        source: str | None
        medium: str | None
        campaign: str | None
        content: str | None
        cost: Decimal | None

    class Created(Fact):
        """The lead was created (named ``Created`` after the funnel stage, not the stream)."""

        origin: str
        segment: str | None

    class DealWon(Fact):
        deal_id: str
        amount: Decimal
        currency: str

    @classmethod
    def open(cls, lead_key: str, occurred_at: datetime, source_system: str) -> Lead:
        return cls._create(
            cls.Opened,
            id=lead_uuid(lead_key),
            lead_key=lead_key,
            occurred_at=occurred_at,
            source_system=source_system,
        )

    def has_seen(self, event_id: str) -> bool:
        """True if a fact with this idempotency key is already in the stream."""
        return event_id in self.seen_event_ids

    # Commands. Each either records exactly one event or raises RuleViolation.

    def record_touch(
        self,
        *,
        event_id: str,
        occurred_at: datetime,
        source_system: str,
        channel: str,
        source: str | None = None,
        medium: str | None = None,
        campaign: str | None = None,
        content: str | None = None,
        cost: Decimal | None = None,
    ) -> None:
        """Touches are always accepted, even after a sale: attribution orders by event time."""
        self.trigger_event(
            self.TouchRecorded,
            lead_key=self.lead_key,
            event_id=event_id,
            occurred_at=occurred_at,
            source_system=source_system,
            channel=channel,
            source=source,
            medium=medium,
            campaign=campaign,
            content=content,
            cost=cost,
        )

    def create(
        self,
        *,
        event_id: str,
        occurred_at: datetime,
        source_system: str,
        origin: str,
        segment: str | None = None,
    ) -> None:
        if self.stage is not Stage.VISITOR:
            raise RuleViolation(
                f"lead {self.lead_key!r} was already created (event {self.created_by!r}); "
                f"a second lead_created with a different event id is refused"
            )
        self.trigger_event(
            self.Created,
            lead_key=self.lead_key,
            event_id=event_id,
            occurred_at=occurred_at,
            source_system=source_system,
            origin=origin,
            segment=segment,
        )

    def win_deal(
        self,
        *,
        event_id: str,
        occurred_at: datetime,
        source_system: str,
        deal_id: str,
        amount: Decimal,
        currency: str,
    ) -> None:
        if self.stage is Stage.VISITOR:
            raise RuleViolation(
                f"deal {deal_id!r} cannot be won: lead {self.lead_key!r} was never created"
            )
        if deal_id in self.won_deals:
            raise RuleViolation(f"deal {deal_id!r} of lead {self.lead_key!r} was already won")
        self.trigger_event(
            self.DealWon,
            lead_key=self.lead_key,
            event_id=event_id,
            occurred_at=occurred_at,
            source_system=source_system,
            deal_id=deal_id,
            amount=amount,
            currency=currency,
        )

    # Event handlers: the only place state changes.

    @singledispatchmethod
    def when(self, event: Event) -> None:
        raise NotImplementedError(f"Lead has no handler for {type(event).__name__}")

    @when.register(Opened)
    def _(self, event: Opened) -> None:
        self.lead_key = event.lead_key
        self.stage = Stage.VISITOR
        self.seen_event_ids: set[str] = set()
        self.created_by: str | None = None
        self.won_deals: list[str] = []

    @when.register(TouchRecorded)
    def _(self, event: TouchRecorded) -> None:
        self.seen_event_ids.add(event.event_id)

    @when.register(Created)
    def _(self, event: Created) -> None:
        self.seen_event_ids.add(event.event_id)
        self.stage = Stage.LEAD
        self.created_by = event.event_id

    @when.register(DealWon)
    def _(self, event: DealWon) -> None:
        self.seen_event_ids.add(event.event_id)
        self.stage = Stage.WON
        self.won_deals.append(event.deal_id)
