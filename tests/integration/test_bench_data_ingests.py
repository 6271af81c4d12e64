"""The benchmark's generated traffic is legal: ingested in stream order, nothing is refused."""

from __future__ import annotations

from pathlib import Path

from bench.generator import generate, write_jsonl
from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file
from leadledger.store import open_store


def test_generated_traffic_is_stored_whole(tmp_path: Path) -> None:
    count, _ = write_jsonl(generate(600, seed=9), tmp_path / "in.jsonl")
    database = Database(url="sqlite", data_dir=tmp_path / "data")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        tally = ingest_file(tmp_path / "in.jsonl", store, ledger)
    finally:
        store.close()
        ledger.close()
    assert (tally.received, tally.stored, tally.dead_lettered) == (count, count, 0)
