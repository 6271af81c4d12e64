"""The embedded pipeline on a real database: one contract, run on SQLite and PostgreSQL."""

from pathlib import Path

from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB, dead_letters
from leadledger.pipeline import ingest_file, project_from_store
from leadledger.projections.definitions import DEFAULTS
from leadledger.readmodels import served
from leadledger.reports import attribution_report
from leadledger.store import open_store
from tests.expected import (
    FIRST_TOUCH_CREDITS,
    SKELETON_RECORDS,
    SKELETON_REFUSAL,
    SKELETON_REFUSED_LINE,
    SKELETON_STORE_EVENTS,
    SKELETON_STORED,
)

DATA = Path(__file__).resolve().parent.parent / "data"


def test_file_to_first_touch_report(database: Database) -> None:
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        tally = ingest_file(DATA / "skeleton.jsonl", store, ledger)
        assert (tally.received, tally.stored, tally.duplicates, tally.dead_lettered) == (
            SKELETON_RECORDS,
            SKELETON_STORED,
            1,
            1,
        )
        assert project_from_store(store, ledger) == SKELETON_STORE_EVENTS
        assert (
            attribution_report(ledger, served(ledger), "first_touch", DEFAULTS)["credits"]
            == FIRST_TOUCH_CREDITS
        )
        [letter] = ledger.select(dead_letters)
        assert letter.origin.endswith(f"skeleton.jsonl:{SKELETON_REFUSED_LINE}")
        assert letter.reason == SKELETON_REFUSAL
        assert b'"deal_id": "D9"' in letter.payload
    finally:
        ledger.close()
        store.close()


def test_reingesting_stores_nothing_and_projection_resumes_from_its_checkpoint(
    database: Database,
) -> None:
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        ingest_file(DATA / "skeleton.jsonl", store, ledger)
        project_from_store(store, ledger)
        again = ingest_file(DATA / "skeleton.jsonl", store, ledger)
        assert (again.stored, again.duplicates, again.dead_lettered) == (0, SKELETON_STORED + 1, 1)
        assert project_from_store(store, ledger) == 0
        assert store.max_position() == SKELETON_STORE_EVENTS
    finally:
        ledger.close()
        store.close()


def test_state_survives_reopening_the_store(database: Database) -> None:
    store = open_store(database)
    ledger = LedgerDB(database.ledger_url())
    ingest_file(DATA / "skeleton.jsonl", store, ledger)
    store.close()
    ledger.close()
    reopened = open_store(database)
    try:
        lead = reopened.find_lead("L1")
        assert lead is not None
        assert (lead.stage, lead.deals) == ("won", {"D1": "won"})
    finally:
        reopened.close()
