"""The Kafka path in-process on a real broker: publisher -> ingest -> relay -> projection."""

from datetime import timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from leadledger.codec import registry
from leadledger.config import Database, Kafka
from leadledger.consumers.ingest import REASON_HEADER, run_ingest
from leadledger.consumers.projection import run_projection
from leadledger.consumers.relay import run_relay
from leadledger.consumers.runloop import RunLoop
from leadledger.files import read_jsonl
from leadledger.kafka import consumer, ensure_topics
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.definitions import DEFAULTS
from leadledger.publisher import Publisher
from leadledger.readmodels import served
from leadledger.reports import attribution_report
from leadledger.store import open_store
from tests.expected import (
    FIRST_TOUCH_CREDITS,
    SKELETON_RECORDS,
    SKELETON_STORE_EVENTS,
    SKELETON_STORED,
)

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = pytest.mark.kafka


def drain(kafka: Kafka, topic: str) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    reader = consumer(kafka, consumer_timeout_ms=3000)
    reader.subscribe([topic])
    try:
        return [(r.key, r.value, dict(r.headers)) for r in reader]
    finally:
        reader.close()


def test_publish_ingest_relay_project(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    database = Database.from_settings(data_dir=tmp_path)
    messages = [r.message for r in read_jsonl(DATA / "skeleton.jsonl") if r.message is not None]
    with Publisher(kafka) as publisher:
        report = publisher.publish(messages)
        publisher.send_raw(b"not avro at all", key=b"L1")
    assert (report.sent, report.failed) == (SKELETON_RECORDS, [])

    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        loop = RunLoop(until_idle=4, install_signals=False)
        tally = run_ingest(kafka, store, ledger, loop, max_wait=timedelta(seconds=0))
        assert (tally.received, tally.stored, tally.duplicates, tally.dead_lettered) == (
            SKELETON_RECORDS + 1,
            SKELETON_STORED,
            1,
            2,
        )
        assert (
            run_relay(kafka, store, ledger, RunLoop(until_idle=1, install_signals=False))
            == SKELETON_STORE_EVENTS
        )
        assert (
            run_projection(kafka, ledger, RunLoop(until_idle=3, install_signals=False))
            == SKELETON_STORE_EVENTS
        )
        assert (
            attribution_report(ledger, served(ledger), "first_touch", DEFAULTS)["credits"]
            == FIRST_TOUCH_CREDITS
        )
    finally:
        ledger.close()
        store.close()

    relayed = drain(kafka, kafka.domain_topic)
    schemas = registry()
    decoded = [schemas.decode(value) for _, value, _ in relayed]
    assert len({record["event_id"] for _, record in decoded}) == SKELETON_STORE_EVENTS
    positions_by_lead: dict[bytes | None, list[int]] = {}
    for key, _, headers in relayed:
        positions_by_lead.setdefault(key, []).append(int(headers["leadledger.position"]))
    assert set(positions_by_lead) == {b"L1", b"L2", b"L3", b"L4", b"L5"}
    for positions in positions_by_lead.values():
        assert positions == sorted(positions), "a lead's events must arrive in store order"
    letters = drain(kafka, kafka.dead_letter_topic)
    reasons = sorted(h[REASON_HEADER].decode().split(":", 1)[0] for _, _, h in letters)
    assert reasons == ["funnel rule", "undecodable"]
    assert b"not avro at all" in [value for _, value, _ in letters]


def test_the_engine_creates_its_topics_with_infinite_retention(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    ensure_topics(kafka)
    ensure_topics(kafka)  # a second call finds them and changes nothing
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t)
             for t in (kafka.domain_topic, kafka.dead_letter_topic)]
        )["topic"]  # fmt: skip
        partitions = len(admin.describe_topics([kafka.domain_topic])[0]["partitions"])
    finally:
        admin.close()
    for topic in (kafka.domain_topic, kafka.dead_letter_topic):
        configs = {key: value["value"] for key, value in described[topic].items()}
        assert configs["retention.ms"] == "-1"
        assert configs["retention.bytes"] == "-1"
        assert configs["cleanup.policy"] == "delete"
    assert partitions == 6
