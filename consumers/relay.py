"""The relay: the event store's ordered log -> the Kafka domain-events topic.

Events go out in store order, keyed by lead, through an idempotent producer. The relay
flushes, then records the last published position; after a crash it resumes from that
checkpoint, so it may re-send the tail of a batch, never skip one. Re-sent events keep
their idempotency keys, and the projections fold each key once. Each record carries its
store position and stream version in headers, so a consumer can tell what a read model
built from the store already holds, and order a lead's facts exactly as the store did.
"""

from __future__ import annotations

import logging
import time

from leadledger import kafka as kafka_io
from leadledger.codec import registry
from leadledger.config import Kafka
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ledgerdb import LedgerDB
from leadledger.store import EventStore
from leadledger.wire import to_wire, wire_key

log = logging.getLogger("leadledger.relay")
CHECKPOINT = "relay"
STREAM = "store"
TYPE_HEADER = "leadledger.type"
POSITION_HEADER = "leadledger.position"  # the event's position in the store's log
VERSION_HEADER = "leadledger.version"  # its version in its stream (the lead's order)


def run_relay(
    kafka: Kafka, store: EventStore, ledger: LedgerDB, loop: RunLoop, page_size: int = 1000
) -> int:
    kafka_io.ensure_topics(kafka)
    schemas = registry()
    producer = kafka_io.producer(kafka)
    after = ledger.position(CHECKPOINT, STREAM) or 0
    speed = Throughput("relay")
    sent = 0
    loop.worked()  # the quiet spell counts from here, not from setup
    try:
        while loop.go_on():
            progressed = False
            for page in store.notifications(after, page_size):
                for notification in page:
                    event = store.decode(notification)
                    event_type, record = to_wire(event)
                    producer.send(
                        kafka.domain_topic,
                        key=wire_key(event).encode(),
                        value=schemas.encode(event_type, record),
                        headers=[
                            (TYPE_HEADER, event_type.encode()),
                            (POSITION_HEADER, str(notification.id).encode()),
                            (VERSION_HEADER, str(notification.originator_version).encode()),
                        ],
                    )
                producer.flush()
                after = page[-1].id
                ledger.set_position(CHECKPOINT, STREAM, after)
                sent += len(page)
                speed.add(len(page), lag=store.max_position() - after)
                progressed = True
                if not loop.go_on():
                    break
            if progressed:
                loop.worked()
            else:
                time.sleep(0.2)
    finally:
        producer.close()
    log.info("relay stopped at position %d after sending %d events", after, sent)
    return sent
