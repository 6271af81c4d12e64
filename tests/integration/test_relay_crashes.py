"""The relay survives being killed mid-stream: nothing skipped, order kept per lead.

The relay runs as a real process and is killed with SIGKILL at random moments (seeded)
while it still has events to send, at least five times; each time it restarts from its
checkpoint. Afterwards the topic, once duplicates are dropped by event id, holds every
stored event exactly once, and each lead's events in store order.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leadledger import demo
from leadledger.codec import registry
from leadledger.config import Database, Kafka
from leadledger.consumers.relay import checkpoint_of
from leadledger.kafka import consumer
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file
from leadledger.store import open_store
from leadledger.wire import to_wire, wire_key

pytestmark = pytest.mark.kafka
LEADLEDGER = str(Path(sys.executable).parent / "leadledger")
KILLS = 5


def test_killed_relay_resends_but_never_skips(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    database = Database.from_settings(data_dir=tmp_path / "data")
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    ingest_file(demo.write_jsonl(demo.generate(leads=2000, seed=3), tmp_path / "in.jsonl"),
                store, ledger)  # fmt: skip
    expected = []  # (key, event id) in store order
    for page in store.notifications(0):
        for notification in page:
            event = store.decode(notification)
            expected.append((wire_key(event), to_wire(event)[1]["event_id"]))
    total = store.max_position()
    store.close()

    env = {**os.environ, "LEADLEDGER_DATA_DIR": str(tmp_path / "data"),
           "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "LEADLEDGER_TOPIC_PREFIX": topic_prefix}  # fmt: skip
    relay = [LEADLEDGER, "run", "relay", "--page-size", "5"]
    rng = random.Random(20261124)
    mid_stream_kills = 0
    for _ in range(4 * KILLS):  # bounded: give up rather than loop forever
        start = ledger.position(*checkpoint_of(kafka)) or 0
        process = subprocess.Popen(relay, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        # Kill at a seeded moment after the relay has started sending (however long a
        # loaded machine takes to start it): mid-stream, not before the first page.
        deadline = time.monotonic() + 60
        while (ledger.position(*checkpoint_of(kafka)) or 0) == start:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        reached = ledger.position(*checkpoint_of(kafka)) or 0
        if 0 < reached < total:
            mid_stream_kills += 1
        if mid_stream_kills >= KILLS or reached >= total:
            break
    assert mid_stream_kills >= KILLS, f"only {mid_stream_kills} kills landed mid-stream"
    subprocess.run([*relay, "--until-idle", "2"], env=env, check=True, timeout=300,
                   capture_output=True)  # fmt: skip
    assert ledger.position(*checkpoint_of(kafka)) == total
    ledger.close()

    reader = consumer(kafka, consumer_timeout_ms=5000)
    reader.subscribe([f"{topic_prefix}.domain-events"])
    schemas = registry()
    received = [(r.key.decode(), schemas.decode(r.value)[1]["event_id"]) for r in reader]
    reader.close()
    assert len(received) >= total
    first_seen = list(dict.fromkeys(received))
    assert sorted(first_seen) == sorted(expected), "every stored event exactly once"
    for key in {k for k, _ in expected}:
        want = [e for k, e in expected if k == key]
        got = [e for k, e in first_seen if k == key]
        assert got == want, f"events of {key} out of store order"
