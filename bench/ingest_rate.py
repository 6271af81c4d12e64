"""Benchmark: sustained ingest from Kafka to the committed event store, beside the raw
kafka-python consume rate of the same topic in the same run.

    .venv/bin/python bench/ingest_rate.py [--events 100000] [--bootstrap 127.0.0.1:19092]

Data: seeded touches over leads (10 per lead), published as Avro to a fresh ingest topic of
6 partitions. Baseline: a kafka-python consumer reading every record of that topic, bytes
only. leadledger: ``run_ingest`` with one consumer process, then two in one consumer group
(the engine scales out by partitions; this machine has two cores), each doing decode,
validate, dedupe, funnel rules, one store
transaction and one intake write per batch, offsets committed after) into SQLite; the clock
runs from the first committed batch until the store holds every event (touches and
stream openings), read from a second connection. Both clocks start at the first record, so
consumer-group joins do not count as throughput.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
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
    parser.add_argument("--consumers", type=int, default=2, help="Up to this many processes.")
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

    print(f"raw kafka-python consume: {raw:,.0f} records/s")
    for consumers in range(1, args.consumers + 1):
        group = f"leadledger-bench-{uuid.uuid4().hex[:6]}"
        ours = ingest_rate(kafka, group, consumers, args.events + args.events // 10)
        print(f"leadledger ingest, {consumers} consumer process(es) in one group, to the "
              f"committed SQLite store: {ours:,.0f} events/s "
              f"({ours / raw:.0%} of raw)")  # fmt: skip


def consume(kafka: Kafka, group: str, folder: Path) -> None:
    """One ingest consumer process: what ``leadledger run ingest`` runs."""
    database = Database.from_settings(data_dir=folder)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    # Idle long enough to sit out the group's rebalance when the other consumer joins.
    run_ingest(kafka, store, ledger, RunLoop(until_idle=15, install_signals=False), group=group)
    store.close()
    ledger.close()


def ingest_rate(kafka: Kafka, group: str, consumers: int, expected: int) -> float:
    """Events/s from the first committed batch until the store holds ``expected`` events."""
    folder = Path(tempfile.mkdtemp(prefix="ll-ingest-bench-"))
    context = multiprocessing.get_context("spawn")
    try:
        watcher = open_store(Database.from_settings(data_dir=folder))
        workers = [context.Process(target=consume, args=(kafka, group, folder))
                   for _ in range(consumers)]  # fmt: skip
        for worker in workers:
            worker.start()
        while (first := watcher.max_position()) == 0:
            time.sleep(0.01)
        start = time.perf_counter()  # sustained rate: from the first committed batch
        while watcher.max_position() < expected:
            if time.perf_counter() - start > 600:
                raise SystemExit(f"gave up: {watcher.max_position()} of {expected} stored")
            time.sleep(0.05)
        rate = (expected - first) / (time.perf_counter() - start)
        for worker in workers:
            worker.join()
        watcher.close()
        return rate
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
