"""The producer SDK: validate, encode as Avro, and send ingest events to Kafka.

Backend teams use :class:`Publisher` directly; ``leadledger publish FILE`` wraps it.
Records are keyed by their stream (a lead's id), so one lead's events stay in order on
one partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from leadledger import kafka as kafka_io
from leadledger.catalogue import ROUTES
from leadledger.codec import SchemaRegistry, registry
from leadledger.config import Kafka
from leadledger.messages import IngestEvent

TYPE_HEADER = "leadledger.type"


@dataclass
class PublishReport:
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)


class Publisher:
    """Sends ingest events to the ingest topic with an idempotent producer."""

    def __init__(self, kafka: Kafka, schemas: SchemaRegistry | None = None, **config: Any) -> None:
        self.kafka = kafka
        self.schemas = schemas or registry()
        kafka_io.ensure_topics(kafka)
        self._producer = kafka_io.producer(kafka, **config)

    def publish(
        self, events: Iterable[IngestEvent], progress: Callable[[int], None] | None = None
    ) -> PublishReport:
        """Send ``events`` and wait until the broker has acknowledged each one."""
        report = PublishReport()
        pending = []
        for event in events:
            value = self.schemas.encode(event.type, event.to_record())
            future = self._producer.send(
                self.kafka.ingest_topic,
                key=ROUTES[event.type].of(event).key(event).encode(),
                value=value,
                headers=[(TYPE_HEADER, event.type.encode())],
            )
            pending.append((event.event_id, future))
            if progress and len(pending) % 1000 == 0:
                progress(1000)
        self._producer.flush()
        if progress:
            progress(len(pending) % 1000)
        for event_id, future in pending:
            try:
                future.get(timeout=30)
                report.sent += 1
            except Exception as exc:  # the broker's error, reported per record
                report.failed.append((event_id, f"{type(exc).__name__}: {exc}"))
        return report

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send bytes as they are; for tests of the dead-letter path, not for producers."""
        self._producer.send(self.kafka.ingest_topic, key=key, value=value).get(timeout=30)

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
