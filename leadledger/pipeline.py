"""The embedded mode: files in, event store, and projections that follow the store's log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from leadledger.files import FileRecord, read_records
from leadledger.ingest import Ingestor, Tally
from leadledger.intake import Intake, Received
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.journeys import Row, rows_for
from leadledger.store import EventStore
from leadledger.wire import to_wire

JOURNEYS = "journeys"
STORE_STREAM = "store"
BATCH_SIZE = 2000

Progress = Callable[[int], None]


def ingest_records(
    records: Iterable[FileRecord],
    store: EventStore,
    ledger: LedgerDB,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> Tally:
    """Settle records in batches (see ``intake``); at the end, dead-letter what is parked."""
    intake = Intake(Ingestor(store), ledger, max_wait=timedelta(days=365))
    tally = Tally()
    batch: list[Received] = []
    for record in records:
        batch.append(Received(record.origin, record.raw, record.message, record.error))
        if len(batch) >= batch_size:
            intake.take(batch, tally)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        intake.take(batch, tally)
        if progress:
            progress(len(batch))
    intake.finish(tally)
    return tally


def ingest_file(
    path: Path, store: EventStore, ledger: LedgerDB, progress: Progress | None = None
) -> Tally:
    return ingest_records(read_records(path), store, ledger, progress=progress)


def project_from_store(
    store: EventStore, ledger: LedgerDB, progress: Progress | None = None
) -> int:
    """Bring the journey read model up to the end of the store's log; return events read."""
    after = ledger.position(JOURNEYS, STORE_STREAM) or 0
    count = 0
    for page in store.notifications(after):
        rows: list[Row] = []
        for notification in page:
            rows.extend(rows_for(*to_wire(store.decode(notification))))
        ledger.commit(rows, JOURNEYS, {STORE_STREAM: page[-1].id})
        count += len(page)
        if progress:
            progress(len(page))
    return count
