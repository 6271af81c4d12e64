"""Benchmark: events stored per second by leadledger's batched ingest, beside the raw
eventsourcing rate measured in the same run, on SQLite and (given a URL) PostgreSQL.

    .venv/bin/python bench/store_rate.py [--events 100000] [--postgres URL]

Data: synthetic touches spread over leads (10 per lead), validated ingest messages built
before timing starts. Three rates per backend:
- raw insert: eventsourcing's recorder inserting pre-serialised events, 1,000 per call
  (the floor of what any writer on this store can do);
- raw save: ``Application.save`` of plain aggregates, 100 per call, with ten events each,
  the same shape as the data (the rate the issue's "raw" refers to);
- leadledger: ``Ingestor.apply`` in batches of ``BATCH_SIZE`` messages, as ``ingest`` runs
  it (load or open each lead, dedupe by event id, funnel rules, one transaction per
  batch), stream-opening events included in the count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from leadledger.config import Database
from leadledger.ingest import Ingestor
from leadledger.messages import IngestEvent, Touch
from leadledger.pipeline import BATCH_SIZE
from leadledger.store import open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def messages(count: int) -> list[IngestEvent]:
    return [
        Touch(event_id=f"t{i}", lead_id=f"L{i // 10}", occurred_at=T0 + timedelta(seconds=i),
              source_system="bench", channel=("email", "paid_search", "organic")[i % 3])
        for i in range(count)
    ]  # fmt: skip


class Plain(Aggregate):
    @event("Touched")
    def touch(self, channel: str) -> None:
        self.channel = channel


def raw_insert_rate(env: dict[str, str], count: int) -> float:
    app: Application[UUID] = Application(env=env)
    stored = [
        StoredEvent(uuid.uuid4(), 1, "bench:Plain.Created", b'{"timestamp": "2026-01-01"}')
        for _ in range(count)
    ]
    start = time.perf_counter()
    for i in range(0, count, 1000):
        app.recorder.insert_events(stored[i : i + 1000])
    elapsed = time.perf_counter() - start
    app.close()
    return count / elapsed


def raw_save_rate(env: dict[str, str], count: int) -> float:
    app: Application[UUID] = Application(env=env)
    start = time.perf_counter()
    for _ in range(0, count, 1000):
        batch = []
        for _ in range(100):
            aggregate = Plain()
            for n in range(9):
                aggregate.touch(f"c{n}")
            batch.append(aggregate)
        app.save(*batch)
    elapsed = time.perf_counter() - start
    app.close()
    return count / elapsed


def leadledger_rate(database: Database, batch: list[IngestEvent]) -> tuple[float, int]:
    store = open_store(database)
    ingestor = Ingestor(store)
    start = time.perf_counter()
    for i in range(0, len(batch), BATCH_SIZE):
        ingestor.apply(batch[i : i + BATCH_SIZE])
    elapsed = time.perf_counter() - start
    events = store.max_position()
    store.close()
    return events / elapsed, events


def fresh_postgres(admin_url: str) -> tuple[Database, str]:
    name = f"ll_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return Database.from_settings(url=admin_url.rsplit("/", 1)[0] + "/" + name), name


def drop_postgres(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("LEADLEDGER_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    batch = messages(args.events)
    print(f"data: {args.events} touches over {args.events // 10} leads, built in advance")
    print(f"{'backend':<11} {'raw insert/s':>13} {'raw save/s':>11} {'leadledger/s':>13} "
          f"{'ratio to raw save':>18}")  # fmt: skip
    backends: list[str] = ["sqlite"] + (["postgres"] if args.postgres else [])
    for backend in backends:
        folder = Path(tempfile.mkdtemp(prefix="ll-bench-"))
        cleanup = None
        try:
            if backend == "sqlite":
                db = Database.from_settings(data_dir=folder / "ll")
                raw_env = Database.from_settings(data_dir=folder / "raw").event_store_env()
                save_env = Database.from_settings(data_dir=folder / "save").event_store_env()
            else:
                db, name = fresh_postgres(args.postgres)
                raw_db, raw_name = fresh_postgres(args.postgres)
                save_db, save_name = fresh_postgres(args.postgres)
                raw_env, save_env = raw_db.event_store_env(), save_db.event_store_env()
                cleanup = (name, raw_name, save_name)
            insert = raw_insert_rate(raw_env, args.events)
            save = raw_save_rate(save_env, args.events)
            ours, stored = leadledger_rate(db, batch)
            print(f"{backend:<11} {insert:>13,.0f} {save:>11,.0f} {ours:>13,.0f} "
                  f"{ours / save:>17.2f}x   ({stored} events stored)")  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            for name in cleanup or ():
                drop_postgres(args.postgres, name)


if __name__ == "__main__":
    main()
