"""The projection consumer: the domain-events topic -> the journey read model.

It assigns itself every partition and keeps its own offsets in the ledger database, in
the same transaction as the rows they produced: exactly-once effect from at-least-once
delivery. Rows are keyed by event id, so relay re-sends add nothing.
"""

from __future__ import annotations

import logging

from kafka import TopicPartition

from leadledger import kafka as kafka_io
from leadledger.codec import registry
from leadledger.config import Kafka
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.journeys import Row, rows_for

log = logging.getLogger("leadledger.projection")
JOURNEYS = "journeys"


def run_projection(kafka: Kafka, ledger: LedgerDB, loop: RunLoop) -> int:
    kafka_io.ensure_topics(kafka)
    schemas = registry()
    consumer = kafka_io.consumer(kafka)
    topic = kafka.domain_topic
    partitions = [
        TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    done = ledger.positions(JOURNEYS)
    for tp in partitions:
        last = done.get(f"{topic}:{tp.partition}")
        if last is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, last + 1)
    speed = Throughput("projection")
    count = 0
    loop.worked()  # the quiet spell counts from here, not from setup
    try:
        while loop.go_on():
            polled = consumer.poll(timeout_ms=500)
            if not polled:
                continue
            loop.worked()
            rows: list[Row] = []
            positions: dict[str, int] = {}
            for tp, records in polled.items():
                for record in records:
                    rows.extend(rows_for(*schemas.decode(record.value)))
                positions[f"{tp.topic}:{tp.partition}"] = records[-1].offset
                count += len(records)
            ledger.commit(rows, JOURNEYS, positions)
            speed.add(sum(len(r) for r in polled.values()))
    finally:
        consumer.close(autocommit=False)
    log.info("projection stopped after %d events", count)
    return count
