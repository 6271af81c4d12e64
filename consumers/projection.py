"""The projection consumer: the domain-events topic -> the facts and the read models.

Projection processes join one consumer group and share the topic's partitions (see
``Projection``); offsets are kept in the ledger database, in the same transaction as the
rows they produced, never in Kafka. Each sink (the facts, and every live read model)
has its own offsets, so a read model promoted or replayed later catches up from where it
stands, not from where the facts do.

Exactly once, whatever path fed a sink before: a sink's position in the store's log
("store", moved by embedded ingest, store replays and dead-letter replays) and its
Kafka offsets are kept side by side; a record whose store position (a header the relay
sets) is at or below the sink's store position is already in it and is skipped, and the
folds themselves ignore an idempotency key they hold (a relay re-send). The topic is
keyed by lead; the lifecycle fold puts each fact in its event-time place anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from leadledger import kafka as kafka_io
from leadledger.codec import registry
from leadledger.config import Kafka
from leadledger.consumers.relay import POSITION_HEADER, VERSION_HEADER, checkpoint_of
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ledgerdb import CheckpointMoved, LedgerDB
from leadledger.projections.facts import Row, rows_for
from leadledger.projections.lifecycle import LIFECYCLE_TYPES
from leadledger.readmodels import (
    FACTS,
    STORE_STREAM,
    Projector,
    ReadModel,
    fewer_collections,
    live_models,
)
from leadledger.wire import STREAM_VERSION, WireEvent

log = logging.getLogger("leadledger.projection")
JOIN_TIMEOUT = 60.0  # seconds a new consumer may take to get its partitions
MODELS_EVERY = 3.0  # seconds between looks at the read-model registry
Offsets = dict[str, int]  # "topic:partition" -> the last offset applied


class Sink(Protocol):
    def apply(self, events: list[WireEvent], positions: Offsets) -> int: ...


class FactsSink:
    def __init__(self, ledger: LedgerDB) -> None:
        self.ledger = ledger

    def apply(self, events: list[WireEvent], positions: Offsets) -> int:
        rows: list[Row] = [row for event in events for row in rows_for(*event)]
        self.ledger.commit(rows, FACTS, positions)
        return len(events)


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


def _key(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def _seek(consumer: KafkaConsumer, partitions: list[TopicPartition], done: list[Offsets]) -> None:
    """Start each partition after the offset every sink has applied."""
    for tp in partitions:
        lasts = [d.get(_key(tp)) for d in done]
        if any(last is None for last in lasts):
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, min(last for last in lasts if last is not None) + 1)


def _header(record: Any, name: str) -> int:
    """An integer header the relay sets (0 when absent: a record of an older relay)."""
    for key, value in record.headers or ():
        if key == name:
            return int(value)
    return 0


def _decoded(record: Any, wanted: Callable[[bytes], bool]) -> tuple[int, int, WireEvent | None]:
    """(offset, store position, event or None when the sinks do not read its type)."""
    position = _header(record, POSITION_HEADER)
    if not wanted(record.value):
        return record.offset, position, None
    kind, data = registry().decode(record.value)
    data[STREAM_VERSION] = _header(record, VERSION_HEADER)
    return record.offset, position, (kind, data)


def _deliver(
    polled: dict[TopicPartition, list[Any]],
    sinks: list[tuple[Sink, Offsets]],
    wanted: Callable[[bytes], bool],
) -> int:
    """Decode each record once and give each sink the records it does not hold yet: past
    its offsets on that partition, and past its position in the store's log."""
    decoded = {tp: [_decoded(r, wanted) for r in records] for tp, records in polled.items()}
    for sink, done in sinks:
        events: list[WireEvent] = []
        positions: Offsets = {}
        from_store = done.get(STORE_STREAM, 0)
        for tp, records in decoded.items():
            last = done.get(_key(tp), -1)
            events.extend(
                e for offset, position, e in records
                if offset > last and e is not None and (position == 0 or position > from_store)
            )  # fmt: skip
            positions[_key(tp)] = max(last, records[-1][0])
        sink.apply(events, positions)
        done.update(positions)
    return sum(len(r) for r in polled.values())


def _settle_store_position(
    kafka: Kafka, consumer: KafkaConsumer, ledger: LedgerDB, sinks: list[tuple[Sink, Offsets]]
) -> None:
    """Move each sink's store position to the relay's checkpoint once this consumer has
    read every partition to its end: the relay moves its checkpoint only after the broker
    acknowledged every record up to it, so each of them lies below the end offsets read
    now, and has been delivered. Then the read model has one position in the store's log
    whichever path fed it, and a store path that runs next starts there, not at 0.

    Only a process that owns every partition of the topic may do this. In a group, a
    process that owns some partitions knows nothing of the others: the relay's checkpoint
    may cover records on a partition another process has not folded yet, and a store
    position set past them would make every path skip them (``_deliver`` drops records
    at or below it). So with a partial assignment the store position stays where it is;
    it moves when one process holds the whole topic and has read it to the end (a group
    of one, or the last process left after the others stopped)."""
    relayed = ledger.position(*checkpoint_of(kafka)) or 0
    behind = [sink for sink, done in sinks if done.get(STORE_STREAM, 0) < relayed]
    if not behind:
        return
    assigned = set(consumer.assignment())
    if not assigned or assigned != set(_partitions(consumer, kafka.domain_topic)):
        return
    ends = consumer.end_offsets(list(assigned))
    if any(consumer.position(tp) < ends[tp] for tp in assigned):
        return
    for sink, done in sinks:
        if done.get(STORE_STREAM, 0) < relayed:
            sink.apply([], {STORE_STREAM: relayed})
            done[STORE_STREAM] = relayed


class Projection(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped library
    """One projection process's sinks, and the partitions the group gave it.

    Offsets live in the ledger database, per sink and per "topic:partition", committed in
    the transaction that writes the rows; Kafka's committed offsets are never used. So:

    - on assignment each partition is sought to the offsets its sinks hold in the
      database (another process may have moved them while it owned the partition), and
      every sink re-reads its checkpoint, so that its compare-and-set expects what the
      database holds;
    - on revocation (or a lost membership: the library's ``on_partitions_lost`` calls
      ``on_partitions_revoked``) the lead states cached in memory are dropped:
      a lead whose partition moves elsewhere is folded there, and must be read back from
      the database if it ever comes back here, never served from a stale cache;
    - records polled for a partition this process no longer owns are not applied.

    A batch is applied between two polls, and the group's rebalance runs inside ``poll``,
    so a batch has committed before its partitions can be revoked. Positions committed for
    a batch name only the partitions it came from, so processes owning different
    partitions of one read model never refuse each other's commits.

    New read models are picked up without a restart: every ``MODELS_EVERY`` seconds the
    registry is read again; a read model that became live (ready, or promoted) gets a sink
    that starts from its own checkpoint, and one dropped or no longer live loses its sink.
    """

    def __init__(self, kafka: Kafka, ledger: LedgerDB, consumer: KafkaConsumer) -> None:
        self.kafka = kafka
        self.ledger = ledger
        self.consumer = consumer
        self.owned: set[TopicPartition] = set()
        self.facts: tuple[Sink, Offsets] = (FactsSink(ledger), ledger.positions(FACTS))
        self.models: dict[tuple[str, str], tuple[Projector, Offsets]] = {}
        self.looked_at = float("-inf")

    @property
    def sinks(self) -> list[tuple[Sink, Offsets]]:
        return [self.facts, *self.models.values()]

    def look_for_models(self, force: bool = False) -> None:
        """Follow the live read models the registry lists now (at most every few seconds)."""
        if not force and time.monotonic() - self.looked_at < MODELS_EVERY:
            return
        self.looked_at = time.monotonic()
        live = {(m.name, m.definitions.hash): m for m in live_models(self.ledger)}
        for key in [k for k in self.models if k not in live]:
            log.info("read model %s is no longer live: not followed any more", key[0])
            del self.models[key]
        added = [key for key in live if key not in self.models]
        for key in added:
            model = live[key]
            self.models[key] = (
                Projector(self.ledger, model),
                self.ledger.positions(model.checkpoint),
            )
            log.info("following read model %s", model.describe())
        if added and self.owned:
            # The new sink may stand behind the others: read its partitions again from
            # where it stands (the others skip what they hold, by offset).
            _seek(self.consumer, sorted(self.owned), [done for _, done in self.sinks])

    def reload(self) -> None:
        """Forget cached lead states and re-read every sink's checkpoint."""
        self.facts[1].clear()
        self.facts[1].update(self.ledger.positions(FACTS))
        for projector, done in self.models.values():
            projector.forget()
            done.clear()
            done.update(projector.positions)

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.owned -= set(revoked)
        for projector, _ in self.models.values():
            projector.forget()
        log.info("partitions revoked: %s", _keys(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.owned |= set(assigned)
        self.reload()
        _seek(self.consumer, sorted(assigned), [done for _, done in self.sinks])
        log.info("partitions assigned: %s", _keys(assigned))

    def deliver(self, polled: dict[TopicPartition, list[Any]]) -> int:
        mine = {tp: records for tp, records in polled.items() if tp in self.owned and records}
        if not mine:
            return 0
        try:
            return _deliver(mine, self.sinks, lambda _: True)
        except CheckpointMoved as exc:
            self._start_again(exc)
            return 0

    def _start_again(self, exc: CheckpointMoved) -> None:
        """Another writer moved a checkpoint (a read model dropped, a store path that ran
        meanwhile, or a process that lost its partitions without hearing of it yet): read
        the registry and the checkpoints again and seek to them. The sinks that committed
        the batch skip it by offset."""
        log.warning("%s; reading the read models and their checkpoints again", exc)
        self.look_for_models(force=True)
        self.reload()
        if self.owned:
            _seek(self.consumer, sorted(self.owned), [done for _, done in self.sinks])

    def settle(self) -> None:
        try:
            _settle_store_position(self.kafka, self.consumer, self.ledger, self.sinks)
        except CheckpointMoved as exc:
            self._start_again(exc)


def _keys(partitions: Any) -> str:
    return ", ".join(sorted((_key(tp) for tp in partitions), key=_natural)) or "none"


def _natural(key: str) -> tuple[str, int]:
    topic, _, partition = key.rpartition(":")
    return topic, int(partition)


def run_projection(
    kafka: Kafka, ledger: LedgerDB, loop: RunLoop, group: str | None = None,
    instance_id: str | None = None,
) -> int:  # fmt: skip
    """Join consumer group ``group`` on the domain-events topic and fold the partitions it
    gives this process into the facts and every live read model, until ``loop`` says stop;
    return the records read. ``instance_id`` makes it a static member (see ``run_ingest``)."""
    kafka_io.ensure_topics(kafka)
    consumer = kafka_io.consumer(
        kafka, group_id=group or kafka.projection_group, group_instance_id=instance_id
    )
    projection = Projection(kafka, ledger, consumer)
    projection.look_for_models(force=True)
    consumer.subscribe([kafka.domain_topic], listener=projection)
    speed = Throughput("projection")
    count = 0
    loop.worked()  # the quiet spell counts from here, not from setup
    joining_until = time.monotonic() + JOIN_TIMEOUT
    try:
        with fewer_collections():
            while loop.go_on():
                projection.look_for_models()
                polled = consumer.poll(timeout_ms=500)
                added = 0
                if polled:
                    loop.worked()
                    added = projection.deliver(polled)
                    count += added
                else:
                    if not projection.owned and time.monotonic() < joining_until:
                        loop.worked()  # still joining the group: not a quiet spell yet
                    # End offsets time out while the broker is away: wait, then retry.
                    loop.through_outages(projection.settle)
                # Every turn, idle ones too, so -v shows the lag while nothing arrives.
                speed.add(added, kafka_io.consumer_lag(consumer, kafka) if speed.due() else None)
    finally:
        consumer.close(autocommit=False)
    log.info("projection stopped after %d events", count)
    return count


def replay_total(kafka: Kafka, ledger: LedgerDB, model: ReadModel) -> tuple[int, Offsets]:
    """The records a replay of ``model`` has still to read, and the end offsets it reads to
    (the topic's end when the replay starts)."""
    consumer = kafka_io.consumer(kafka)
    try:
        partitions = _partitions(consumer, kafka.domain_topic)
        ends = {_key(tp): offset for tp, offset in consumer.end_offsets(partitions).items()}
        starts = consumer.beginning_offsets(partitions)
    finally:
        consumer.close(autocommit=False)
    done = ledger.positions(model.checkpoint)
    total = 0
    for tp in partitions:
        first = done.get(_key(tp), starts[tp] - 1) + 1
        total += max(ends[_key(tp)] - first, 0)
    return total, ends


def replay_from_kafka(
    kafka: Kafka,
    ledger: LedgerDB,
    model: ReadModel,
    ends: Offsets,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fold the domain-events topic into ``model`` from its offsets up to ``ends``; return
    the records read. Records of types the fold does not read are not decoded."""
    with fewer_collections():
        return _replay_from_kafka(kafka, ledger, model, ends, progress)


def _replay_from_kafka(
    kafka: Kafka,
    ledger: LedgerDB,
    model: ReadModel,
    ends: Offsets,
    progress: Callable[[int], None] | None,
) -> int:
    consumer = kafka_io.consumer(kafka, max_poll_records=5000)
    partitions = [tp for tp in _partitions(consumer, kafka.domain_topic) if ends[_key(tp)] > 0]
    consumer.assign(partitions)
    done = ledger.positions(model.checkpoint)
    _seek(consumer, partitions, [done])
    schemas = registry()

    def wanted(value: bytes) -> bool:
        return schemas.type_of(value) in LIFECYCLE_TYPES

    sinks: list[tuple[Sink, Offsets]] = [(Projector(ledger, model), done)]
    count = 0
    try:
        while any(consumer.position(tp) < ends[_key(tp)] for tp in partitions):
            polled = consumer.poll(timeout_ms=1000)
            polled = {
                tp: [r for r in records if r.offset < ends[_key(tp)]]
                for tp, records in polled.items()
            }
            polled = {tp: records for tp, records in polled.items() if records}
            if not polled:
                continue
            added = _deliver(polled, sinks, wanted)
            count += added
            if progress:
                progress(added)
    finally:
        consumer.close(autocommit=False)
    return count
