"""The event store: an eventsourcing application holding the Lead aggregates."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    JSONTranscoder,
    Notification,
    PersistenceError,
    Transcoding,
)
from eventsourcing.utils import EnvType, get_topic

from leadledger.config import Database
from leadledger.domain.lead import Lead
from leadledger.domain.stream import Stream, stream_uuid
from leadledger.wire import STREAM_VERSION, WireEvent, from_stored, to_wire

__all__ = ["EventStore", "IntegrityError", "open_store"]


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class SetAsSortedList(Transcoding):
    """Sets (seen event ids in snapshots) as sorted lists, so snapshots are deterministic."""

    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return sorted(obj)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


class EventStore(Application[UUID]):
    """The aggregates in SQLite or PostgreSQL, with an ordered log of every event.

    Long-lived streams are snapshotted every ``SNAPSHOT_EVERY`` events, so loading a lead
    with a years-long history reads one snapshot and a few events.
    """

    name = "leadledger"
    SNAPSHOT_EVERY = 50
    snapshotting_intervals = {Lead: SNAPSHOT_EVERY}  # noqa: RUF012 (eventsourcing's API)

    # Streams loaded by recent batches stay in memory: most facts name a lead seen shortly
    # before, and loading it again costs a snapshot and an events query. A cached stream
    # is fast-forwarded from the database on each get, so another writer's events are
    # never missed; it is not deep-copied (half the cost), so a batch whose save fails
    # evicts the streams it touched (``save``).
    CACHE: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__({**self.CACHE, **(env or {})})
        recorder = self.recorder
        assert isinstance(recorder, ApplicationRecorder)
        self.ordered_log: ApplicationRecorder = recorder
        self._opened: dict[type[Stream], set[UUID]] = {}
        self._contested: set[UUID] = set()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(SetAsSortedList())

    def find(self, kind: type[Stream], key: str) -> Stream | None:
        """The stream of ``key``, or None if it has never been opened.

        Most keys an ingest batch names are new; asking the database about each costs two
        queries (snapshot, then events). So the store keeps, per stream kind, the set of
        opened streams, read once from its own log. The set may lag another writer: then
        the new stream conflicts with the rival's on save, and the caller's retry finds it.
        """
        stream_id = stream_uuid(kind.KIND, key)
        if stream_id not in self._opened_streams(kind) and stream_id not in self._contested:
            return None
        try:
            found: Stream = self.repository.get(stream_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(found, kind)
        return found

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        streams = [obj for obj in objs if isinstance(obj, Stream)]
        try:
            recordings = super().save(*objs, **kwargs)
        except IntegrityError:
            # Another writer got there first. Re-read the log on the next find, and ask the
            # repository about these streams whatever the log says, so the retry loads
            # the rival's version instead of opening the stream a second time.
            self._opened.clear()
            self._contested.update(stream.id for stream in streams)
            if self.repository.cache is not None:  # they hold the events that failed
                for stream in streams:
                    with suppress(KeyError):
                        self.repository.cache.get(stream.id, evict=True)
            raise
        for stream in streams:
            self._opened_streams(type(stream)).add(stream.id)
        return recordings

    def _opened_streams(self, kind: type[Stream]) -> set[UUID]:
        """The ids of ``kind``'s opened streams.

        eventsourcing gives each aggregate class its own copy of the nested event
        classes, so a stream is opened under its own kind's topic (``Spend.Opened``,
        ``Visitor.Opened``, ...), never under ``Stream.Opened``: read that topic.
        """
        opened = self._opened.get(kind)
        if opened is None:
            opened = self._opened[kind] = set()
            after = 0
            while page := self.ordered_log.select_notifications(
                start=after, limit=10_000, topics=[get_topic(kind.Opened)], inclusive_of_start=False
            ):
                opened.update(UUID(str(n.originator_id)) for n in page)
                after = page[-1].id
        return opened

    def find_lead(self, lead_key: str) -> Lead | None:
        lead = self.find(Lead, lead_key)
        assert lead is None or isinstance(lead, Lead)
        return lead

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

    def wire(self, notification: Notification) -> WireEvent:
        """The (type, record) of a stored event, as the projections see it, with its
        stream version (the relay sends that in a header, see ``wire.STREAM_VERSION``)."""
        kind, record = from_stored(notification.topic, notification.state) or to_wire(
            self.decode(notification)
        )
        record[STREAM_VERSION] = notification.originator_version
        return kind, record

    def max_position(self) -> int:
        return self.ordered_log.max_notification_id() or 0


def open_store(database: Database) -> EventStore:
    """The event store of ``database``, its tables made if missing.

    Processes started together on a new PostgreSQL database race to make the tables, and
    ``CREATE TABLE IF NOT EXISTS`` does not guard against a concurrent create (the loser
    gets a unique violation on the table's row type). The loser waits and tries again,
    and then finds the tables made.
    """
    for attempt in range(10):
        try:
            return EventStore(env=database.event_store_env())
        except PersistenceError:
            if attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
