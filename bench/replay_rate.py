"""Benchmark: replaying the log into a new read model (all projections that depend on the
definitions: lifecycle states, SLA clocks, KPI measures and conversions), from the embedded
store and from Kafka, beside the raw read-and-decode rate of the same log in the same run.

    .venv/bin/python bench/replay_rate.py [--events 1000000] [--bootstrap 127.0.0.1:19092]
    .venv/bin/python bench/replay_rate.py --events 10000000 --no-kafka   # memory at 10M

Data: the demo's seeded journeys (touches, lead creation, assignment, MQL, acceptance or
rejection with a reason, contact attempts, SQL, confirmation, opportunities, deals won or
lost, spend, targets) for 10,000 leads, ingested through the engine once, then copied block
by block under new lead keys with eventsourcing's own recorder until the store holds
``--events`` events.

Rates, all in log events per second (every event of the log counts, whatever its type):
- raw read-and-decode: page the whole log (1,000 per page) and decode every event into its
  (type, record) wire form, nothing else: what any reader of this log must pay;
- raw, projection topics: the same, paging only the event types the projections fold
  (touches, identity and spend events are facts, projected once at ingest, not replayed);
- replay: ``replay_from_store`` into a fresh read model on SQLite: page, decode, fold, and
  one transaction per page with the states, clocks, conversions and checkpoint;
- from Kafka: the log relayed to a 6-partition topic; raw = consume and Avro-decode every
  record; replay = ``replay_from_kafka`` (skips records of other types by their header).
Peak memory (max RSS) of the embedded replay is measured in a child process of its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from leadledger import demo, readmodels
from leadledger.codec import registry
from leadledger.config import Database, Kafka
from leadledger.consumers.projection import replay_from_kafka, replay_total
from leadledger.consumers.relay import run_relay
from leadledger.consumers.runloop import RunLoop
from leadledger.kafka import consumer
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import LIFECYCLE_TOPICS, ingest_file, replay_from_store
from leadledger.projections.definitions import DEFAULTS
from leadledger.store import open_store

TEMPLATE_LEADS = 10_000


def build_store(folder: Path, events: int) -> Database:
    """A store of ``events`` events: one ingested block, copied under new keys."""
    template = Database.from_settings(data_dir=folder / "template")
    path = demo.write_jsonl(demo.generate(leads=TEMPLATE_LEADS, seed=1), folder / "block.jsonl")
    store, ledger = open_store(template), LedgerDB(template.ledger_url())
    ingest_file(path, store, ledger)
    block = [n for page in store.notifications(0, 10_000) for n in page]
    store.close()
    ledger.close()
    database = Database.from_settings(data_dir=folder / "bench")
    target = open_store(database)
    written, copy = 0, 0
    while written < events:
        lead, deal = f'"lead-b{copy}-'.encode(), f'"deal-b{copy}-'.encode()
        batch = [
            StoredEvent(
                originator_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{copy}:{n.originator_id}"),
                originator_version=n.originator_version,
                topic=n.topic,
                state=n.state.replace(b'"lead-', lead).replace(b'"deal-', deal),
            )
            for n in block[: events - written]
        ]  # fmt: skip
        for start in range(0, len(batch), 5000):
            target.recorder.insert_events(batch[start : start + 5000])
        written += len(batch)
        copy += 1
    target.close()
    return database


def raw_store_rate(database: Database, topics: list[str] | None) -> tuple[float, int]:
    store = open_store(database)
    end, after, decoded = store.max_position(), 0, 0
    start = time.perf_counter()
    while after < end:
        page = store.ordered_log.select_notifications(
            start=after, limit=1000, stop=end, topics=topics or (), inclusive_of_start=False
        )
        for notification in page:
            store.wire(notification)
        decoded += len(page)
        after = page[-1].id if page else end
    elapsed = time.perf_counter() - start
    store.close()
    return end / elapsed, decoded


def replay_child(database: Database, name: str, results: Any) -> None:
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    model = readmodels.create(ledger, name, DEFAULTS)
    start = time.perf_counter()
    covered = replay_from_store(store, ledger, model)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results.put((covered / elapsed, covered, peak_kib))


def replay_store_rate(database: Database, name: str) -> tuple[float, int, float]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=replay_child, args=(database, name, results))
    child.start()
    rate, covered, peak_kib = results.get()
    child.join()
    return rate, covered, peak_kib / 1024


def kafka_rates(database: Database, bootstrap: str) -> tuple[float, float, float, int]:
    kafka = Kafka(bootstrap, f"bench{uuid.uuid4().hex[:8]}")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    start = time.perf_counter()
    sent = run_relay(kafka, store, ledger, RunLoop(until_idle=2, install_signals=False),
                     page_size=5000)  # fmt: skip
    relay = sent / (time.perf_counter() - start - 2)
    store.close()
    schemas = registry()
    reader = consumer(kafka, consumer_timeout_ms=5000, max_poll_records=5000)
    reader.subscribe([kafka.domain_topic])
    count, begun = 0, None
    for record in reader:
        begun = begun or time.perf_counter()
        schemas.decode(record.value)
        count += 1
        if count == sent:
            break
    raw = count / (time.perf_counter() - (begun or time.perf_counter()))
    reader.close()
    model = readmodels.create(ledger, "from-kafka", DEFAULTS)
    _, ends = replay_total(kafka, ledger, model)
    start = time.perf_counter()
    covered = replay_from_kafka(kafka, ledger, model, ends)
    replay = covered / (time.perf_counter() - start)
    ledger.close()
    return relay, raw, replay, covered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--no-kafka", action="store_true")
    parser.add_argument("--keep", type=Path, help="Build the data here, or reuse it if there.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ll-replay-bench-"))
    try:
        started = time.perf_counter()
        if args.keep and (folder / "bench" / "events.db").exists():
            database = Database.from_settings(data_dir=folder / "bench")
            for stale in (folder / "bench").glob("ledger.db*"):
                stale.unlink()
        else:
            database = build_store(folder, args.events)
        took = time.perf_counter() - started
        print(f"data: {args.events:,} events (demo journeys of {TEMPLATE_LEADS:,} leads, "
              f"copied under new keys), built in {took:.0f} s")  # fmt: skip
        raw, _ = raw_store_rate(database, None)
        raw_topics, folded = raw_store_rate(database, LIFECYCLE_TOPICS)
        replay, covered, peak = replay_store_rate(database, "bench")
        print(f"embedded store ({covered:,} log events, {folded:,} of the projections' types)")
        print(f"  raw read-and-decode, every event     {raw:>10,.0f} events/s")
        print(f"  raw read-and-decode, projection types{raw_topics:>10,.0f} events/s")
        print(
            f"  replay, all projections (SQLite)     {replay:>10,.0f} events/s  "
            f"= {replay / raw:.2f}x raw, {replay / raw_topics:.2f}x raw of the same types"
        )
        print(f"  peak memory of the replay process    {peak:>10,.0f} MiB")
        if not args.no_kafka:
            relay, kafka_raw, kafka_replay, read = kafka_rates(database, args.bootstrap)
            print(f"Kafka (relayed at {relay:,.0f} events/s; {read:,} records)")
            print(f"  raw consume-and-decode, every record {kafka_raw:>10,.0f} events/s")
            print(f"  replay, all projections (SQLite)     {kafka_replay:>10,.0f} events/s  "
                  f"= {kafka_replay / kafka_raw:.2f}x raw")  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
