"""Benchmark: sustained ingest from Kafka to the committed event store, beside the raw
kafka-python consume rate of the same topic in the same run.

    .venv/bin/python bench/ingest_rate.py [--events 100000] [--bootstrap 127.0.0.1:19092]

Data: seeded touches over leads (10 per lead), published as Avro to a fresh ingest topic of
3 partitions. Baseline: a kafka-python consumer reading every record of that topic, bytes
only. leadledger: ``run_ingest`` (decode, validate, dedupe, funnel rules, one store
transaction and one intake write per batch, offsets committed after) into SQLite; the clock
runs from the first committed batch until the store holds every event (touches and
stream openings), read from a second connection. Both clocks start at the first record, so
consumer-group joins do not count as throughput.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leadledger.config import Database, Kafka
from leadledger.consumers.ingest import run_ingest
from leadledger.consumers.runloop import RunLoop
from leadledger.kafka import consumer
from leadledger.ledgerdb import LedgerDB
from leadledger.messages import Touch
from leadledger.publisher import Publisher
from leadledger.store import open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    args = parser.parse_args()
    kafka = Kafka(args.bootstrap, f"bench-{uuid.uuid4().hex[:8]}")
    touches = [
        Touch(event_id=f"t{i}", lead_id=f"L{i // 10}", occurred_at=T0 + timedelta(seconds=i),
              source_system="bench", channel=("email", "paid_search", "organic")[i % 3])
        for i in range(args.events)
    ]  # fmt: skip
    with Publisher(kafka) as publisher:
        assert not publisher.publish(touches).failed
    print(f"data: {args.events} touches over {args.events // 10} leads on {kafka.ingest_topic}")

    reader = consumer(kafka, group_id=f"raw-{uuid.uuid4().hex[:6]}", consumer_timeout_ms=5000)
    reader.subscribe([kafka.ingest_topic])
    start, count = 0.0, 0
    for _ in reader:  # the clock starts at the first record: group joins are not throughput
        count += 1
        start = start or time.perf_counter()
        if count == args.events:
            break
    raw = (count - 1) / (time.perf_counter() - start)
    reader.close()

    folder = Path(tempfile.mkdtemp(prefix="ll-ingest-bench-"))
    try:
        database = Database.from_settings(data_dir=folder)
        store, ledger = open_store(database), LedgerDB(database.ledger_url())
        watcher = open_store(database)
        loop = RunLoop(install_signals=False)
        worker = threading.Thread(target=run_ingest, args=(kafka, store, ledger, loop))
        worker.start()
        expected = args.events + args.events // 10  # touches + one stream opening per lead
        while (first := watcher.max_position()) == 0:
            time.sleep(0.01)
        start = time.perf_counter()  # sustained rate: from the first committed batch
        while watcher.max_position() < expected:
            time.sleep(0.05)
        ours = (expected - first) / (time.perf_counter() - start)
        loop.stopping = True
        worker.join()
        watcher.close()
        store.close()
        ledger.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"raw kafka-python consume: {raw:,.0f} records/s")
    print(f"leadledger ingest to the committed SQLite store: {ours:,.0f} events/s "
          f"({ours / raw:.0%} of raw)")  # fmt: skip


if __name__ == "__main__":
    main()
