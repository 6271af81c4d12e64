"""Fuzzed Avro values on the real broker's ingest topic, through the ingest consumer (issue
11, point 4).

Valid frames of every schema among truncated, bit-flipped, wrong-magic, trailing-byte and
cross-schema ones, and well-formed Avro holding values the models refuse (see
``tests/fuzz.py``): the consumer never stops, every record is accounted for
(``reconcile --topic`` is exact), every bad one is dead-lettered with a reason, and the
same topic and data directory still ingest a clean batch afterwards.
"""

from datetime import timedelta
from pathlib import Path

import pytest

from leadledger import kafka as kafka_io
from leadledger.config import Database, Kafka
from leadledger.consumers.ingest import REASON_HEADER, run_ingest
from leadledger.consumers.runloop import RunLoop
from leadledger.files import read_jsonl
from leadledger.ingest import Tally
from leadledger.ledgerdb import LedgerDB
from leadledger.publisher import Publisher
from leadledger.store import EventStore, open_store
from tests import fuzz
from tests.e2e.cli import leadledger
from tests.expected import SKELETON_RECORDS, SKELETON_STORED

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = [pytest.mark.kafka, pytest.mark.fuzz]
EXAMPLES, BULK = 3, 1000


def ingest_until_idle(kafka: Kafka, store: EventStore, ledger: LedgerDB) -> Tally:
    # Parked facts wait no time: on a topic there is no end of input to retry them at.
    loop = RunLoop(until_idle=4, install_signals=False)
    return run_ingest(kafka, store, ledger, loop, max_wait=timedelta(seconds=0))


def dead_letter_reasons(kafka: Kafka) -> list[str]:
    reader = kafka_io.consumer(kafka, consumer_timeout_ms=3000)
    reader.subscribe([kafka.dead_letter_topic])
    try:
        return [dict(r.headers)[REASON_HEADER].decode() for r in reader]
    finally:
        reader.close()


def test_fuzzed_avro_values_are_each_accounted_for(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    batches = fuzz.draw_batches(fuzz.batches(fuzz.avro_case, BULK), EXAMPLES)
    cases = [case for batch in batches for case in batch]
    kafka_io.ensure_topics(kafka)
    producer = kafka_io.producer(kafka)
    try:
        futures = [(producer.send(kafka.ingest_topic, value=c.raw), c) for c in cases]
        tombstone = producer.send(kafka.ingest_topic, key=b"fz-L1", value=None)
        producer.flush()
        sent = [(future.get(timeout=30), case) for future, case in futures]
        gone = tombstone.get(timeout=30)
    finally:
        producer.close()
    origins: dict[str, fuzz.Case] = {
        f"{kafka.ingest_topic}/{meta.partition}/{meta.offset}": case for meta, case in sent
    }
    origins[f"{kafka.ingest_topic}/{gone.partition}/{gone.offset}"] = fuzz.Case(
        b"", fuzz.BAD, "a tombstone (no value)"
    )

    database = Database.from_settings(data_dir=tmp_path / "data")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        tally = ingest_until_idle(kafka, store, ledger)
        assert tally.reconciles
        assert tally.received == len(origins)
        assert sum(ledger.intake_counts(f"{kafka.ingest_topic}/").values()) == len(origins)
        assert fuzz.wrong_fates(ledger, origins) == []

        messages = [r.message for r in read_jsonl(DATA / "skeleton.jsonl") if r.message]
        with Publisher(kafka) as publisher:
            assert publisher.publish(messages).failed == []
        clean = ingest_until_idle(kafka, store, ledger)
        assert (clean.received, clean.stored, clean.duplicates, clean.dead_lettered) == (
            SKELETON_RECORDS,
            SKELETON_STORED,
            1,
            1,
        )
    finally:
        ledger.close()
        store.close()

    reasons = dead_letter_reasons(kafka)
    assert len(reasons) == tally.dead_lettered + clean.dead_lettered
    assert all(reason.strip() for reason in reasons)
    result = leadledger(
        "--data-dir", str(tmp_path / "data"), "reconcile", "--topic",
        "--bootstrap-servers", kafka_bootstrap, "--topic-prefix", topic_prefix,
    )  # fmt: skip
    assert f"received {len(origins) + SKELETON_RECORDS} = " in result.stdout
    assert "unaccounted 0" in result.stdout
    print(f"fuzz: {len(origins)} Kafka records checked")
    assert len(cases) >= EXAMPLES * BULK
