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
from collections.abc import Sequence
from functools import partial
from typing import Any

from eventsourcing.persistence import Notification

from leadledger import kafka as kafka_io
from leadledger.codec import registry
from leadledger.config import Kafka
from leadledger.consumers.runloop import RunLoop, Throughput
from leadledger.ledgerdb import LedgerDB
from leadledger.store import EventStore
from leadledger.wire import to_wire, wire_key

log = logging.getLogger("leadledger.relay")
CHECKPOINT = "relay"


def checkpoint_of(kafka: Kafka) -> tuple[str, str]:
    """The relay's checkpoint (name, stream): the last store position the broker has
    acknowledged on this domain-events topic. Keyed by topic, so a projection reading the
    topic can trust it (see ``consumers.projection``)."""
    return CHECKPOINT, kafka.domain_topic


TYPE_HEADER = "leadledger.type"
POSITION_HEADER = "leadledger.position"  # the event's position in the store's log
VERSION_HEADER = "leadledger.version"  # its version in its stream (the lead's order)


def _publish(producer: Any, kafka: Kafka, store: EventStore, page: Sequence[Notification]) -> None:
    """Send one page and wait for the broker to acknowledge every record of it: a send that
    failed (a broker away longer than the producer's timeout) raises, so the checkpoint
    never moves past an event that is not on the topic."""
    schemas = registry()
    futures = []
    for notification in page:
        event = store.decode(notification)
        event_type, record = to_wire(event)
        futures.append(producer.send(
            kafka.domain_topic,
            key=wire_key(event).encode(),
            value=schemas.encode(event_type, record),
            headers=[
                (TYPE_HEADER, event_type.encode()),
                (POSITION_HEADER, str(notification.id).encode()),
                (VERSION_HEADER, str(notification.originator_version).encode()),
            ],
        ))  # fmt: skip
    producer.flush(timeout=kafka.timeout)
    for future in futures:
        future.get(timeout=0)  # raises the broker's error for a record it did not take


def run_relay(
    kafka: Kafka, store: EventStore, ledger: LedgerDB, loop: RunLoop, page_size: int = 1000
) -> int:
    kafka_io.ensure_topics(kafka)
    producer = kafka_io.producer(kafka)
    after = ledger.position(*checkpoint_of(kafka)) or 0
    speed = Throughput("relay")
    sent = 0
    loop.worked()  # the quiet spell counts from here, not from setup
    try:
        while loop.go_on():
            progressed = False
            for page in store.notifications(after, page_size):
                loop.through_outages(partial(_publish, producer, kafka, store, page))
                after = page[-1].id
                ledger.set_position(*checkpoint_of(kafka), after)
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
        # Bounded: records a broker that is away never acknowledged are dropped; the
        # checkpoint did not move past them, so the next run sends them again.
        producer.close(timeout=kafka.timeout)
    log.info("relay stopped at position %d after sending %d events", after, sent)
    return sent
