"""Kafka plumbing shared by the publisher and the consumers: clients and topics."""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError

from leadledger.config import BrokerUnavailable, Kafka

# The domain-events topic is the shared record: it keeps every event forever.
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def producer(kafka: Kafka, **overrides: Any) -> KafkaProducer:
    """An idempotent producer: acks=all, so a retry never duplicates or reorders a record."""
    config: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except KafkaTimeoutError:  # kafka-python 3 raises this when bootstrap fails
        raise BrokerUnavailable(_unavailable(kafka)) from None


def consumer(kafka: Kafka, **overrides: Any) -> KafkaConsumer:
    config: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 2000,
    }
    config.update(overrides)
    try:
        return KafkaConsumer(**config)
    except KafkaTimeoutError:  # kafka-python 3 raises this when bootstrap fails
        raise BrokerUnavailable(_unavailable(kafka)) from None


def ensure_topics(kafka: Kafka, partitions: int = 6) -> None:
    """Create leadledger's topics if missing; the domain and dead-letter topics keep forever."""
    wanted = {
        kafka.ingest_topic: {},
        kafka.domain_topic: FOREVER,
        kafka.dead_letter_topic: FOREVER,
    }
    try:
        admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    except KafkaTimeoutError:  # kafka-python 3 raises this when bootstrap fails
        raise BrokerUnavailable(_unavailable(kafka)) from None
    try:
        existing = set(admin.list_topics())
        missing = {
            name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs}
            for name, configs in wanted.items()
            if name not in existing
        }
        if missing:
            try:
                admin.create_topics(missing, wait_for_metadata=True)
            except KafkaError as exc:
                # Another process may have created them between our list and create.
                if "TopicAlreadyExists" not in type(exc).__name__:
                    raise
    finally:
        admin.close()


def topic_size(kafka: Kafka, topic: str) -> int:
    """Records a topic holds now: end minus start offset, over its partitions."""
    reader = consumer(kafka)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        starts = reader.beginning_offsets(partitions)
        ends = reader.end_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        reader.close()


def _unavailable(kafka: Kafka) -> str:
    return (
        f"no Kafka broker answered at {kafka.bootstrap_servers}; start one "
        "(scripts/kafka-local.sh start, or docker compose up) or set "
        "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS"
    )
