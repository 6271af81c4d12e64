"""The projection consumer: the domain-events topic -> the facts and the read models.

It assigns itself every partition and keeps offsets in the ledger database, in the same
transaction as the rows they produced. Each sink (the facts, and every live read model)
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
from collections.abc import Callable
from typing import Any, Protocol

from kafka import KafkaConsumer, TopicPartition

from leadledger import kafka as kafka_io
from leadledger.codec import registry
from leadledger.config import Kafka
from leadledger.consumers.relay import POSITION_HEADER, VERSION_HEADER, checkpoint_of
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ledgerdb import LedgerDB
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
    whichever path fed it, and a store path that runs next starts there, not at 0."""
    relayed = ledger.position(*checkpoint_of(kafka)) or 0
    behind = [sink for sink, done in sinks if done.get(STORE_STREAM, 0) < relayed]
    if not behind:
        return
    assigned = list(consumer.assignment())
    ends = consumer.end_offsets(assigned)
    if any(consumer.position(tp) < ends[tp] for tp in assigned):
        return
    for sink, done in sinks:
        if done.get(STORE_STREAM, 0) < relayed:
            sink.apply([], {STORE_STREAM: relayed})
            done[STORE_STREAM] = relayed


def run_projection(kafka: Kafka, ledger: LedgerDB, loop: RunLoop) -> int:
    kafka_io.ensure_topics(kafka)
    consumer = kafka_io.consumer(kafka)
    partitions = _partitions(consumer, kafka.domain_topic)
    consumer.assign(partitions)
    sinks: list[tuple[Sink, Offsets]] = [(FactsSink(ledger), ledger.positions(FACTS))]
    for model in live_models(ledger):
        sinks.append((Projector(ledger, model), ledger.positions(model.checkpoint)))
    _seek(consumer, partitions, [done for _, done in sinks])
    speed = Throughput("projection")
    count = 0
    loop.worked()  # the quiet spell counts from here, not from setup
    try:
        with fewer_collections():
            while loop.go_on():
                polled = consumer.poll(timeout_ms=500)
                added = 0
                if polled:
                    loop.worked()
                    added = _deliver(polled, sinks, lambda _: True)
                    count += added
                else:  # end offsets time out while the broker is away: wait, then retry
                    loop.through_outages(
                        lambda: _settle_store_position(kafka, consumer, ledger, sinks)
                    )
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
