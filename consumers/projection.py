"""The projection consumer: the domain-events topic -> the facts and the read models.

It assigns itself every partition and keeps offsets in the ledger database, in the same
transaction as the rows they produced: exactly-once effect from at-least-once delivery.
Each sink (the facts, and every live read model) has its own offsets, so a read model
promoted or replayed later catches up from where it stands, not from where the facts do.
The topic is keyed by lead, so a lead's events reach the lifecycle fold in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from kafka import KafkaConsumer, TopicPartition

from leadledger import kafka as kafka_io
from leadledger.codec import registry
from leadledger.config import Kafka
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.facts import Row, rows_for
from leadledger.projections.lifecycle import LIFECYCLE_TYPES
from leadledger.readmodels import Projector, ReadModel, fewer_collections, live_models
from leadledger.wire import WireEvent

log = logging.getLogger("leadledger.projection")
FACTS = "facts"
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


def _deliver(
    polled: dict[TopicPartition, list[Any]],
    sinks: list[tuple[Sink, Offsets]],
    wanted: Callable[[bytes], bool],
) -> int:
    """Decode each record once and give each sink the records past its own offsets."""
    schemas = registry()
    decoded = {
        tp: [(r.offset, schemas.decode(r.value) if wanted(r.value) else None) for r in records]
        for tp, records in polled.items()
    }
    for sink, done in sinks:
        events: list[WireEvent] = []
        positions: Offsets = {}
        for tp, records in decoded.items():
            last = done.get(_key(tp), -1)
            events.extend(e for offset, e in records if offset > last and e is not None)
            positions[_key(tp)] = max(last, records[-1][0])
        sink.apply(events, positions)
        done.update(positions)
    return sum(len(r) for r in polled.values())


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
                if not polled:
                    continue
                loop.worked()
                added = _deliver(polled, sinks, lambda _: True)
                count += added
                speed.add(added)
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
