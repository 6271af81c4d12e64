"""The ingest consumer: ingest topic -> validation -> Lead aggregates -> event store.

Offsets are committed only after the event store has committed the batch, its parked facts
and intake records are written, and its dead letters are acknowledged by the broker, so a
crash re-delivers rather than loses; re-delivered records are recognised as duplicates by
their event ids. Dead letters also go to the ledger database, where ``leadledger
deadletters`` lists, shows and replays them.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import partial

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from leadledger import kafka as kafka_io
from leadledger.codec import DecodeError, SchemaRegistry, registry
from leadledger.config import Kafka
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ingest import Ingestor, Tally
from leadledger.intake import Intake, Received
from leadledger.ledgerdb import DeadLetter, LedgerDB
from leadledger.limits import MAX_RECORD_BYTES, too_large
from leadledger.messages import InvalidEvent, from_record, printable
from leadledger.store import EventStore

log = logging.getLogger("leadledger.ingest")
JOIN_TIMEOUT = 60.0  # seconds a new consumer may take to get its partitions
REASON_HEADER = "leadledger.reason"
ORIGIN_HEADER = "leadledger.origin"


def run_ingest(
    kafka: Kafka,
    store: EventStore,
    ledger: LedgerDB,
    loop: RunLoop,
    group: str | None = None,
    max_wait: timedelta = timedelta(minutes=5),
    instance_id: str | None = None,
) -> Tally:
    """Consume until ``loop`` says stop; return how every received record was settled.

    Parked facts (see ``intake``) wait in the ledger database for at most ``max_wait``.
    ``instance_id`` makes this consumer a static member of the group (Kafka's
    ``group.instance.id``): restarted under the same id after a crash, it takes its
    partitions back at once instead of after the dead member's session timeout (45 s).
    """
    kafka_io.ensure_topics(kafka)
    schemas = registry()
    intake = Intake(Ingestor(store), ledger, max_wait)
    consumer = kafka_io.consumer(
        kafka, group_id=group or kafka.ingest_group, group_instance_id=instance_id
    )
    consumer.subscribe([kafka.ingest_topic])
    # A send waits for the topic's metadata at most the Kafka timeout (not 60 s), so that an
    # outage surfaces here as an error the run loop waits out.
    dead_letters = kafka_io.producer(kafka, max_block_ms=int(kafka.timeout * 1000))
    tally = Tally()
    speed = Throughput("ingest")
    loop.worked()  # the quiet spell counts from here, not from setup
    joining_until = time.monotonic() + JOIN_TIMEOUT
    try:
        while loop.go_on():
            polled = consumer.poll(timeout_ms=500)
            records: list[ConsumerRecord] = [r for batch in polled.values() for r in batch]
            if records or (not consumer.assignment() and time.monotonic() < joining_until):
                loop.worked()  # work, or still joining the group: not a quiet spell yet
            batch = [decode(schemas, record) for record in records]
            letters = intake.take(batch, tally)
            if letters:
                loop.through_outages(partial(send_dead_letters, dead_letters, kafka, letters))
            if records:
                loop.through_outages(lambda: kafka_io.commit(consumer, kafka))
            lag = kafka_io.consumer_lag(consumer, kafka) if speed.due() else None
            speed.add(len(records), lag)
    finally:
        dead_letters.close(timeout=kafka.timeout)  # unacknowledged: offsets not committed
        consumer.close(autocommit=False)
    log.info(
        "ingest stopped: %d received, %d stored, %d duplicates, %d dead-lettered, %d parked",
        tally.received, tally.stored, tally.duplicates, tally.dead_lettered, tally.parked,
    )  # fmt: skip
    return tally


def send_dead_letters(producer: KafkaProducer, kafka: Kafka, letters: list[DeadLetter]) -> None:
    """Send ``letters`` to the dead-letter topic and wait, at most the Kafka timeout, for the
    broker to acknowledge each. Any failure raises, so the batch's offsets stay uncommitted;
    sent again after an outage, a letter may reach the topic twice, never not at all."""
    futures = [
        producer.send(
            kafka.dead_letter_topic,
            key=None,
            value=letter.payload,
            headers=[
                (REASON_HEADER, letter.reason.encode()),
                (ORIGIN_HEADER, letter.origin.encode()),
            ],
        )
        for letter in letters
    ]
    producer.flush(timeout=kafka.timeout)
    for future in futures:
        future.get(timeout=0)  # raises the broker's error for a record it refused


def origin_of(record: ConsumerRecord) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


def decode(schemas: SchemaRegistry, record: ConsumerRecord) -> Received:
    """A consumed record as intake sees it: the event, or why its bytes are not one.

    Whatever one record's bytes make the decoder or validator raise is that record's dead
    letter: an exception escaping here would stop the consumer at the same offset on
    every restart.
    """
    raw = record.value or b""
    origin = origin_of(record)
    if len(raw) > MAX_RECORD_BYTES:
        return Received(origin, raw[:MAX_RECORD_BYTES], None, too_large(len(raw)))
    try:
        event_type, data = schemas.decode(raw)
        return Received(origin, raw, from_record(event_type, data))
    except DecodeError as exc:
        return Received(origin, raw, None, f"undecodable: {exc}")
    except InvalidEvent as exc:
        return Received(origin, raw, None, f"invalid: {exc}")
    except Exception as exc:  # one record's failure is its dead letter, not the consumer's end
        why = printable(f"{type(exc).__name__}: {exc}")
        return Received(origin, raw, None, f"undecodable: {why}")
