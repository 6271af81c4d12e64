"""The event store: an eventsourcing application holding the Lead aggregates."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    JSONTranscoder,
    Notification,
    PersistenceError,
    Transcoder,
    Transcoding,
)
from eventsourcing.utils import EnvType, get_topic

from leadledger.compression import StateCompressor
from leadledger.config import Database
from leadledger.domain.lead import Lead
from leadledger.domain.stream import Stream, stream_uuid
from leadledger.wire import STREAM_VERSION, WireEvent, from_stored, to_wire

__all__ = ["EventStore", "IntegrityError", "open_store"]

_T = TypeVar("_T")


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


# The value types of a stored fact's state that orjson writes exactly as eventsourcing's
# JSON transcoder does (below), as they are or tagged by their registered transcoding;
# anything else takes the transcoder's own way.
_NATIVE = frozenset({str, int, bool, type(None)})
_TAGGED = frozenset({datetime, date, Decimal})


class FastJSONTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder, with orjson for the flat states of facts.

    Encoding every stored event with the ``json`` module and its ``default`` hook was a
    tenth of an ingest's time. A state whose values are all native or tagged types is
    written by orjson to the same bytes (a test compares them), tagged as
    ``_encode_obj`` tags them; reading undoes the tags of the top-level values. Anything
    else (snapshots, nested values, floats) goes through the ``json`` module as before.
    """

    def encode(self, obj: Any) -> bytes:
        if type(obj) is not dict:
            return super().encode(obj)
        flat: dict[str, Any] = {}
        for name, value in obj.items():
            kind = type(value)
            if kind in _NATIVE:
                flat[name] = value
            elif kind in _TAGGED and (coding := self.types.get(kind)) is not None:
                flat[name] = {"_type_": coding.name, "_data_": coding.encode(value)}
            else:
                return super().encode(obj)
        return orjson.dumps(flat)

    def decode(self, data: bytes) -> Any:
        try:
            state = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)
        if type(state) is not dict:
            return super().decode(data)
        for name, value in state.items():
            if type(value) is list:
                return super().decode(data)
            if type(value) is dict:
                coding = self.names.get(value.get("_type_"))  # type: ignore[arg-type]
                if len(value) != 2 or coding is None or type(value.get("_data_")) is not str:
                    return super().decode(data)
                state[name] = coding.decode(value["_data_"])
        return state


class EventStore(Application[UUID]):
    """The aggregates in SQLite or PostgreSQL, with an ordered log of every event.

    Long-lived streams are snapshotted every ``SNAPSHOT_EVERY`` events, so loading a lead
    with a years-long history reads one snapshot and a few events.

    Streams stay in memory (up to ``CACHE_SIZE``, least recently used out): in a
    time-ordered feed most facts name a stream seen shortly before, and loading it again
    costs a snapshot query, an events query and a fold. The cache holds what the log held
    up to ``_synced``; :meth:`sync`, called before each batch, reads what other writers
    appended since then (one query when nobody did) and evicts the streams they moved, so
    another writer's events are never missed. A batch that fails evicts what it touched.
    """

    name = "leadledger"
    # States are deflated with the schemas' words (see ``compression``); an empty
    # COMPRESSOR_TOPIC in the environment stores plain JSON, and either reads both.
    env = {"COMPRESSOR_TOPIC": get_topic(StateCompressor)}  # noqa: RUF012 (eventsourcing's API)
    SNAPSHOT_EVERY = 50
    snapshotting_intervals = {Lead: SNAPSHOT_EVERY}  # noqa: RUF012 (eventsourcing's API)
    CACHE_SIZE = 100_000

    def __init__(self, env: EnvType | None = None, cache_size: int = CACHE_SIZE) -> None:
        super().__init__(env)
        recorder = self.recorder
        assert isinstance(recorder, ApplicationRecorder)
        self.ordered_log: ApplicationRecorder = recorder
        self._opened: dict[type[Stream], set[UUID]] = {}
        self._contested: set[UUID] = set()
        self._streams: OrderedDict[UUID, Stream] = OrderedDict()
        self._cache_size = cache_size
        self._synced: int | None = None  # the log position the cached streams reflect

    def construct_transcoder(self) -> Transcoder:
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(SetAsSortedList())

    def sync(self) -> None:
        """Evict the cached streams other writers appended to since the last sync (and
        note the streams they opened): then every cached stream is as the log holds it."""
        end = self.max_position()
        if self._synced is None or end - self._synced > self._cache_size:
            # Nothing cached yet, or others wrote more than the cache holds: start afresh
            # rather than read it all (the opened sets are read again on next use).
            self._streams.clear()
            self._opened.clear()
            self._synced = end
            return
        opened_topics = {get_topic(kind.Opened): ids for kind, ids in self._opened.items()}
        while self._synced < end:
            page = self.ordered_log.select_notifications(
                start=self._synced, limit=10_000, stop=end, inclusive_of_start=False
            )
            if not page:
                break
            for notification in page:
                stream_id = UUID(str(notification.originator_id))
                self._streams.pop(stream_id, None)
                if (ids := opened_topics.get(notification.topic)) is not None:
                    ids.add(stream_id)
            self._synced = page[-1].id
        self._synced = end

    def forget(self, streams: Iterable[Stream]) -> None:
        """Drop ``streams`` from the cache: they may hold events that were never saved."""
        for stream in streams:
            self._streams.pop(stream.id, None)

    def find(self, kind: type[Stream], key: str) -> Stream | None:
        """The stream of ``key``, or None if it has never been opened.

        Most keys an ingest batch names are new; asking the database about each costs two
        queries (snapshot, then events). So the store keeps, per stream kind, the set of
        opened streams, read once from its own log. The set may lag another writer: then
        the new stream conflicts with the rival's on save, and the caller's retry finds it.
        """
        stream_id = stream_uuid(kind.KIND, key)
        cached = self._streams.get(stream_id)
        if cached is not None:
            self._streams.move_to_end(stream_id)
            assert isinstance(cached, kind)
            return cached
        if stream_id not in self._opened_streams(kind) and stream_id not in self._contested:
            return None
        try:
            found: Stream = self.repository.get(stream_id, projector_func=_fold)
        except AggregateNotFoundError:
            return None
        assert isinstance(found, kind)
        self._keep(found)
        return found

    def _keep(self, stream: Stream) -> None:
        self._streams[stream.id] = stream
        self._streams.move_to_end(stream.id)
        while len(self._streams) > self._cache_size:
            self._streams.popitem(last=False)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Streams go the fast way (:meth:`save_streams`, returning log positions); other
        objects take eventsourcing's ``save``. Either keeps the stream cache right."""
        if kwargs or not all(isinstance(obj, Stream) for obj in objs):
            streams = [obj for obj in objs if isinstance(obj, Stream)]
            return self._saving(streams, lambda: super(EventStore, self).save(*objs, **kwargs))
        return self.save_streams(objs)

    def save_streams(self, streams: Sequence[Stream]) -> list[int]:
        """Save the pending events of ``streams`` in one transaction; return their log
        positions.

        eventsourcing's ``save`` asks of every object whether it is a domain event or an
        aggregate (``isinstance`` on runtime-checkable protocols) and wraps every stored
        event in a recording; both cost more than the insert. Streams are aggregates, so
        their events are collected and inserted directly; snapshots are taken as before.
        """

        def insert() -> list[int]:
            processing = ProcessingEvent[UUID]()
            for stream in streams:
                processing.events.extend(stream.collect_events())
                processing.aggregates[stream.id] = stream
            to_stored = self.mapper.to_stored_event
            ids = self.recorder.insert_events([to_stored(e) for e in processing.events])
            self._take_snapshots(processing)
            return list(ids or [])

        ids: list[int] = self._saving(streams, insert)
        synced = self._synced
        if ids and synced is not None and ids == list(range(synced + 1, synced + 1 + len(ids))):
            self._synced = ids[-1]  # nobody wrote between the last sync and this save
        return ids

    def _saving(self, streams: Sequence[Stream], save: Callable[[], _T]) -> _T:
        """Run ``save`` of ``streams``; keep them in the cache if it succeeds, evict them if
        it fails (they hold events that were not stored)."""
        try:
            saved = save()
        except IntegrityError:
            # Another writer got there first. Re-read the log on the next find, and ask the
            # repository about these streams whatever the log says, so the retry loads
            # the rival's version instead of opening the stream a second time.
            self._opened.clear()
            self._contested.update(stream.id for stream in streams)
            self.forget(streams)
            raise
        except BaseException:
            self.forget(streams)
            raise
        for stream in streams:
            self._opened_streams(type(stream)).add(stream.id)
            self._keep(stream)
        return saved

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


def _fold(stream: Stream | None, events: Iterable[Any]) -> Stream | None:
    """eventsourcing's ``project_aggregate`` without its ``isinstance`` check of every
    event against a runtime-checkable protocol (a fifth of a reload's time)."""
    for event in events:
        stream = event.mutate(stream)
    return stream


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
