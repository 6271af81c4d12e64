"""The event store: an eventsourcing application holding the Lead aggregates."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Notification
from eventsourcing.utils import EnvType

from leadledger.config import Database
from leadledger.domain.lead import Lead, lead_uuid

__all__ = ["EventStore", "IntegrityError", "open_store"]


class EventStore(Application[UUID]):
    """Lead aggregates in SQLite or PostgreSQL, with an ordered log of every event."""

    name = "leadledger"

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        recorder = self.recorder
        assert isinstance(recorder, ApplicationRecorder)
        self.ordered_log: ApplicationRecorder = recorder

    def find_lead(self, lead_key: str) -> Lead | None:
        try:
            return self.repository.get(lead_uuid(lead_key))
        except AggregateNotFoundError:
            return None

    def notifications(self, after: int, page_size: int = 1000) -> Iterator[Sequence[Notification]]:
        """Pages of the ordered log after position ``after``, until it is exhausted.

        eventsourcing's ProjectionRunner cannot subscribe to a SQLite recorder, so
        followers page ``select_notifications`` from their own checkpoint instead.
        """
        while True:
            page = self.ordered_log.select_notifications(
                start=after, limit=page_size, inclusive_of_start=False
            )
            if not page:
                return
            yield page
            after = page[-1].id

    def decode(self, notification: Notification) -> DomainEventProtocol[UUID]:
        return self.mapper.to_domain_event(notification)

    def max_position(self) -> int:
        return self.ordered_log.max_notification_id() or 0


def open_store(database: Database) -> EventStore:
    return EventStore(env=database.event_store_env())
