"""The ingest consumer: ingest topic -> validation -> Lead aggregates -> event store.

Offsets are committed only after the event store has committed the batch and its dead
letters are acknowledged by the broker, so a crash re-delivers rather than loses; the
re-delivered records are then recognised as duplicates by their event ids.
"""

from __future__ import annotations

import logging

from kafka.consumer.fetcher import ConsumerRecord

from leadledger import kafka as kafka_io
from leadledger.codec import DecodeError, registry
from leadledger.config import Kafka
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ingest import Ingestor, Tally
from leadledger.messages import IngestEvent, InvalidEvent, from_record
from leadledger.store import EventStore

log = logging.getLogger("leadledger.ingest")
GROUP = "leadledger-ingest"
REASON_HEADER = "leadledger.reason"
ORIGIN_HEADER = "leadledger.origin"


def run_ingest(kafka: Kafka, store: EventStore, loop: RunLoop, group: str = GROUP) -> Tally:
    kafka_io.ensure_topics(kafka)
    schemas = registry()
    ingestor = Ingestor(store)
    consumer = kafka_io.consumer(kafka, group_id=group)
    consumer.subscribe([kafka.ingest_topic])
    dead_letters = kafka_io.producer(kafka)
    tally = Tally()
    speed = Throughput("ingest")
    loop.worked()  # the quiet spell counts from here, not from setup
    try:
        while loop.go_on():
            polled = consumer.poll(timeout_ms=500)
            records: list[ConsumerRecord] = [r for batch in polled.values() for r in batch]
            if not records:
                continue
            loop.worked()
            valid: list[tuple[ConsumerRecord, IngestEvent]] = []
            refused: list[tuple[ConsumerRecord, str]] = []
            for record in records:
                try:
                    event_type, data = schemas.decode(record.value or b"")
                    valid.append((record, from_record(event_type, data)))
                except DecodeError as exc:
                    refused.append((record, f"undecodable: {exc}"))
                except InvalidEvent as exc:
                    refused.append((record, f"invalid: {exc}"))
            outcomes = ingestor.apply([message for _, message in valid])
            for (record, _), outcome in zip(valid, outcomes, strict=True):
                if outcome.status == "refused":
                    refused.append((record, outcome.reason or "refused"))
                else:
                    tally.add(outcome.status)
            for record, reason in refused:
                tally.add("dead_letter", reason)
                origin = f"{record.topic}/{record.partition}/{record.offset}"
                dead_letters.send(
                    kafka.dead_letter_topic,
                    key=record.key,
                    value=record.value,
                    headers=[
                        (REASON_HEADER, reason.encode()),
                        (ORIGIN_HEADER, origin.encode()),
                    ],
                )
            dead_letters.flush()
            consumer.commit()
            speed.add(len(records))
    finally:
        dead_letters.close()
        consumer.close(autocommit=False)
    log.info(
        "ingest stopped: %d received, %d stored, %d duplicates, %d dead-lettered",
        tally.received,
        tally.stored,
        tally.duplicates,
        tally.dead_lettered,
    )
    return tally
