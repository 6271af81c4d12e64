"""Kafka plumbing shared by the publisher and the consumers: clients, topics, and
noticing a broker that went away.

kafka-python retries a missing broker on its own, for 30 s at start and forever after,
logging every attempt. The engine bounds the first wait (``Kafka.timeout``) and, mid-run,
says once that it waits and once that the broker is back (:class:`BrokerWatch`).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.cluster import get_ip_port_afi
from kafka.errors import (
    InvalidProducerEpochError,
    InvalidReplicationFactorError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    OutOfOrderSequenceNumberError,
    TopicAlreadyExistsError,
    UnknownProducerIdError,
)

from leadledger.config import REPLICATION_ENV, BrokerUnavailable, ConfigError, Kafka

log = logging.getLogger("leadledger.kafka")
T = TypeVar("T")
# Errors that mean "no broker answered in time": worth waiting out, not a bug.
OUTAGE_ERRORS = (KafkaTimeoutError, KafkaConnectionError, NodeNotReadyError)
# What an idempotent producer's records may fail with around a broker restart, after the
# producer reset its id or bumped its epoch: the next send goes through, so worth retrying.
PRODUCER_RESETS = (OutOfOrderSequenceNumberError, UnknownProducerIdError, InvalidProducerEpochError)


def transient(exc: BaseException) -> bool:
    """Whether a Kafka call that raised ``exc`` may succeed if made again: an outage, an
    error the protocol marks retriable (a leader moving, a broker starting), or a
    producer reset. Anything else (a record too large, a denied topic) is raised at once."""
    if isinstance(exc, (*OUTAGE_ERRORS, *PRODUCER_RESETS)):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


# kafka-python backs off up to 30 s between reconnects by default; a broker that returns
# should be used within a second or two of answering again.
RECONNECT_BACKOFF_MAX_MS = 1000

# The domain-events topic is the shared record: it keeps every event forever.
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def producer(kafka: Kafka, **overrides: Any) -> KafkaProducer:
    """An idempotent producer: acks=all, so a retry never duplicates or reorders a record."""
    config: dict[str, Any] = {
        **_client(kafka),
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
        **_client(kafka),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 2000,
    }
    config.update(overrides)
    try:
        return KafkaConsumer(**config)
    except KafkaTimeoutError:  # kafka-python 3 raises this when bootstrap fails
        raise BrokerUnavailable(_unavailable(kafka)) from None


def ensure_topics(kafka: Kafka) -> None:
    """Create leadledger's topics if missing, with ``kafka.partitions`` and
    ``kafka.replication_factor``; the domain and dead-letter topics keep forever."""
    wanted = {
        kafka.ingest_topic: {},
        kafka.domain_topic: FOREVER,
        kafka.dead_letter_topic: FOREVER,
    }
    try:
        admin = KafkaAdminClient(**_client(kafka))
    except KafkaTimeoutError:  # kafka-python 3 raises this when bootstrap fails
        raise BrokerUnavailable(_unavailable(kafka)) from None
    try:
        existing = set(admin.list_topics())
        missing = {
            name: {
                "num_partitions": kafka.partitions,
                "replication_factor": kafka.replication_factor,
                "configs": configs,
            }
            for name, configs in wanted.items()
            if name not in existing
        }
        if missing:
            try:
                admin.create_topics(missing, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                pass  # another process created them between our list and create
            except InvalidReplicationFactorError:
                raise ConfigError(
                    f"replication factor {kafka.replication_factor} needs that many brokers; "
                    f"the cluster at {kafka.bootstrap_servers} has fewer (set "
                    f"--replication-factor or {REPLICATION_ENV})"
                ) from None
    finally:
        admin.close()


def partition_offsets(kafka: Kafka, topic: str) -> dict[int, tuple[int, int]]:
    """Each partition of ``topic`` with its start and end offsets now."""
    reader = consumer(kafka)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        starts = reader.beginning_offsets(partitions)
        ends = reader.end_offsets(partitions)
        return {tp.partition: (starts[tp], ends[tp]) for tp in partitions}
    finally:
        reader.close()


def topic_size(kafka: Kafka, topic: str) -> int:
    """Records a topic holds now: end minus start offset, over its partitions."""
    return sum(end - start for start, end in partition_offsets(kafka, topic).values())


def consumer_lag(reader: KafkaConsumer, kafka: Kafka) -> int | None:
    """Records on the broker not yet consumed, over the consumer's assigned partitions;
    None if the broker does not answer within ``kafka.timeout``. A figure for the log is
    not worth the library's 30 s wait, nor a reason to stop."""
    assigned = list(reader.assignment())
    timeout_ms = _ms(kafka.timeout)
    lag = 0
    try:
        ends: dict[TopicPartition, int] = reader.end_offsets(assigned, timeout_ms=timeout_ms)
        for tp in assigned:
            position: int = reader.position(tp, timeout_ms=timeout_ms)
            lag += max(0, ends[tp] - position)
    except OUTAGE_ERRORS:
        return None
    return lag


def commit(reader: KafkaConsumer, kafka: Kafka) -> None:
    """Commit the consumed offsets, failing after ``kafka.timeout`` rather than the
    library's 30 s, so that a broker gone mid-commit is noticed (and waited for) soon."""
    reader.commit(timeout_ms=_ms(kafka.timeout))


def reachable(kafka: Kafka, timeout: float = 1.0) -> bool:
    """Whether any bootstrap server accepts a TCP connection now.

    A plain connect, not a Kafka request: it answers in milliseconds whatever state the
    clients are in, and says nothing to the library, whose own retries go on untouched.
    """
    for server in kafka.bootstrap_servers.split(","):
        host, port, _ = get_ip_port_afi(server)  # as the clients read it: 9092 if no port
        try:
            socket.create_connection((host, port), timeout=min(timeout, kafka.timeout)).close()
            return True
        except OSError:
            continue
    return False


class BrokerWatch:
    """Notices mid-run that the broker went away, says so once, and says once when it is
    back, instead of the library's line per retry.

    ``check`` probes at most every ``every`` seconds, so a busy loop may call it on every
    turn. ``retry`` runs a Kafka call and waits out an outage that makes it fail.
    """

    def __init__(
        self,
        kafka: Kafka,
        every: float = 2.0,
        probe: Callable[[Kafka], bool] = reachable,
    ) -> None:
        self.kafka = kafka
        self.every = every
        self.probe = probe
        self.away_since: float | None = None
        self.waited = 0.0  # seconds spent in ``wait``, all outages together
        self._checked = float("-inf")

    def check(self) -> bool:
        """True when the broker answers (as far as the last probe knows)."""
        now = time.monotonic()
        if self.away_since is None and now - self._checked < self.every:
            return True
        self._checked = now
        if self.probe(self.kafka):
            if self.away_since is not None:
                log.warning(
                    "Kafka at %s is back after %.0f s",
                    self.kafka.bootstrap_servers, now - self.away_since,
                )  # fmt: skip
                self.away_since = None
            return True
        if self.away_since is None:
            self.away_since = now
            log.warning(
                "waiting for Kafka at %s: no broker answers; carrying on when one does",
                self.kafka.bootstrap_servers,
            )
        return False

    def wait(self, go_on: Callable[[], bool] = lambda: True) -> bool:
        """Block until the broker answers (True) or ``go_on`` says stop (False)."""
        started = time.monotonic()
        try:
            while not self.check():
                if not go_on():
                    return False
                time.sleep(min(self.every, 0.5))
            return True
        finally:
            self.waited += time.monotonic() - started

    def retry(
        self, action: Callable[[], T], go_on: Callable[[], bool] = lambda: True, attempts: int = 3
    ) -> T:
        """``action()`` (a call safe to repeat), run again after an outage that made it fail.

        A transient failure (see :func:`transient`) while the broker answers (a slow
        broker, an election, a producer reset) is tried again up to ``attempts`` times in
        all, then raised; so is any failure once ``go_on`` says stop, and at once any error
        that is not transient.
        """
        failures = 0
        while True:
            try:
                return action()
            except KafkaError as exc:
                if not transient(exc):
                    raise
                self._checked = float("-inf")  # probe now, not at the next interval
                if not self.check():
                    if not self.wait(go_on):
                        raise
                    continue  # the outage is over; it used up no attempt
                failures += 1
                if failures >= attempts or not go_on():
                    raise
                log.warning("Kafka refused a call (%s: %s); trying again (%d of %d)",
                            type(exc).__name__, exc, failures + 1, attempts)  # fmt: skip
                time.sleep(min(self.every, 0.25 * 2**failures))  # let a starting broker settle


def _client(kafka: Kafka) -> dict[str, Any]:
    """Settings every client shares: where, and how long to wait for a first answer."""
    return {
        "bootstrap_servers": kafka.bootstrap_servers,
        "bootstrap_timeout_ms": _ms(kafka.timeout),
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
    }


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _unavailable(kafka: Kafka) -> str:
    return (
        f"no Kafka broker answered at {kafka.bootstrap_servers} within {kafka.timeout:g} s; "
        "start one "
        "(scripts/kafka-local.sh start, or docker compose up) or set "
        "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS"
    )
