"""Accounting across crashes (SQLite and PostgreSQL): a claimed key whose run died before the
store write is settled by another copy; expiry, dead letters and fates commit together; a
dead letter whose origin is later stored is marked resolved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadledger import demo
from leadledger.config import Database
from leadledger.files import read_jsonl
from leadledger.ingest import Ingestor
from leadledger.intake import digest_of, key_of
from leadledger.ledgerdb import LedgerDB, dead_letters, intake, keys, parked
from leadledger.pipeline import ingest_file
from leadledger.store import open_store


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_keys_claimed_by_a_run_that_died_before_the_store_are_settled_by_a_copy(
    database: Database, tmp_path: Path
) -> None:
    records = demo.generate(leads=40, seed=5)
    first = write(tmp_path / "first.jsonl", records)
    copy = write(tmp_path / "copy.jsonl", list(reversed(records)))
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        # The first run claimed its keys, then died before the event store was written.
        claimed = {key_of(r.message): (digest_of(r.message), r.origin)
                   for r in read_jsonl(first) if r.message is not None}  # fmt: skip
        ledger.claim_keys(claimed)
        tally = ingest_file(copy, store, ledger)
        clean = Database.from_settings(data_dir=tmp_path / "clean")
        clean_store, clean_ledger = open_store(clean), LedgerDB(clean.ledger_url())
        expected = ingest_file(first, clean_store, clean_ledger)
        assert (tally.stored, tally.dead_lettered) == (expected.stored, expected.dead_lettered)
        assert store.max_position() == clean_store.max_position()
        # The first file, delivered again, finds every record settled: duplicates.
        again = ingest_file(first, store, ledger)
        assert again.stored == 0
        assert again.duplicates == expected.stored + expected.duplicates
        clean_store.close()
        clean_ledger.close()
    finally:
        ledger.close()
        store.close()


def test_expiry_dead_letters_and_fates_commit_together(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orphan = {"type": "deal_won", "event_id": "w1", "lead_id": "never", "source_system": "crm",
              "occurred_at": "2026-03-01T10:00:00Z", "deal_id": "D1", "amount": "5",
              "currency": "EUR"}  # fmt: skip
    path = write(tmp_path / "in.jsonl", [orphan])
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        original = LedgerDB._record_intake

        def crash(*args: Any) -> None:
            raise SystemExit("killed while settling")

        monkeypatch.setattr(LedgerDB, "_record_intake", crash)
        with pytest.raises(SystemExit):
            ingest_file(path, store, ledger)
        # Nothing of the settling happened: the fact is still parked, no letter written.
        assert len(ledger.select(parked)) == 1
        assert ledger.select(dead_letters) == []
        monkeypatch.setattr(LedgerDB, "_record_intake", original)
        tally = ingest_file(path, store, ledger)
        assert tally.reconciles
        assert ledger.select(parked) == []
        [letter] = ledger.select(dead_letters)
        assert "parked until the fact it needs arrived" in letter.reason
        assert [r.status for r in ledger.select(intake)] == ["dead_letter"]
    finally:
        ledger.close()
        store.close()


def test_a_dead_letter_whose_origin_is_stored_later_is_marked_resolved(
    database: Database, tmp_path: Path
) -> None:
    won = {"type": "deal_won", "event_id": "w1", "lead_id": "L1", "source_system": "crm",
           "occurred_at": "2026-03-02T10:00:00Z", "deal_id": "D1", "amount": "5",
           "currency": "EUR"}  # fmt: skip
    created = {"type": "lead_created", "event_id": "c1", "lead_id": "L1", "source_system": "crm",
               "occurred_at": "2026-03-01T10:00:00Z", "origin": "outbound",
               "entry_stage": "sql"}  # fmt: skip
    deals = write(tmp_path / "deals.jsonl", [won])
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        assert ingest_file(deals, store, ledger).dead_lettered == 1
        [letter] = ledger.select(dead_letters)
        assert letter.replayed_at is None
        ingest_file(write(tmp_path / "leads.jsonl", [created]), store, ledger)
        assert ingest_file(deals, store, ledger).stored == 1  # the same origin, now legal
        [letter] = ledger.select(dead_letters)
        assert letter.replayed_at is not None
    finally:
        ledger.close()
        store.close()


def test_a_batch_stored_by_a_run_that_died_before_its_fates_is_counted_stored(
    database: Database, tmp_path: Path
) -> None:
    """SIGKILL between the event-store commit and the intake write: the records are in the
    store, their fates are not. Delivered again, they are stored, not duplicates."""
    records = [r for r in demo.generate(leads=20, seed=6) if r["type"] != "deal_won"]
    path = write(tmp_path / "in.jsonl", records)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        received = [r for r in read_jsonl(path) if r.message is not None]
        ledger.claim_keys({key_of(r.message): (digest_of(r.message), r.origin)
                           for r in received if r.message is not None})  # fmt: skip
        Ingestor(store).apply([r.message for r in received if r.message is not None])
        assert ledger.select(intake) == []  # the run died here
        tally = ingest_file(path, store, ledger)
        assert tally.reconciles
        assert (tally.stored, tally.duplicates) == (len(records) - 1, 1)  # the demo re-sends one
        assert {r.status for r in ledger.select(intake)} == {"stored", "duplicate"}
    finally:
        ledger.close()
        store.close()


def test_a_claim_with_a_full_length_digest_still_makes_the_same_record_a_duplicate(
    database: Database, tmp_path: Path
) -> None:
    """Claims written before digests were cut to 128 bits hold all 64 hex digits."""
    import hashlib

    import orjson

    from leadledger.intake import DIGEST_CHARS

    records = demo.generate(leads=5, seed=3)
    path = write(tmp_path / "in.jsonl", records)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        first = ingest_file(path, store, ledger)
        with ledger.engine.begin() as conn:  # as an older version wrote them
            for row in conn.execute(sa.select(keys.c.key, keys.c.digest)).all():
                longer = row.digest + hashlib.sha256(orjson.dumps(row.key)).hexdigest()[:32]
                assert len(row.digest) == DIGEST_CHARS
                conn.execute(keys.update().where(keys.c.key == row.key).values(digest=longer))
        copy = write(tmp_path / "copy.jsonl", records)
        again = ingest_file(copy, store, ledger)
        assert again.duplicates == first.stored + first.duplicates
        assert again.dead_lettered == first.dead_lettered
    finally:
        ledger.close()
        store.close()
