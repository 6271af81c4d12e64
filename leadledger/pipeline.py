"""The embedded mode: files in, event store, and projections that follow the store's log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from leadledger.files import FileRecord, read_jsonl
from leadledger.ingest import Ingestor, Tally
from leadledger.ledgerdb import DeadLetter, LedgerDB
from leadledger.messages import IngestEvent
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
    """Store valid records in batches; dead-letter the rest with their origin and reason."""
    ingestor = Ingestor(store)
    tally = Tally()
    batch: list[FileRecord] = []

    def flush() -> None:
        valid = [r for r in batch if r.message is not None]
        messages: list[IngestEvent] = [r.message for r in valid if r.message is not None]
        outcomes = dict(zip((r.origin for r in valid), ingestor.apply(messages), strict=True))
        letters = []
        for record in batch:
            if record.message is None:
                reason = record.error or "unknown"
                tally.add("dead_letter", reason)
                letters.append(DeadLetter(record.origin, reason, record.raw))
                continue
            outcome = outcomes[record.origin]
            if outcome.status == "refused":
                tally.add("dead_letter", outcome.reason)
                letters.append(DeadLetter(record.origin, outcome.reason or "refused", record.raw))
            else:
                tally.add(outcome.status)
        ledger.add_dead_letters(letters)
        if progress:
            progress(len(batch))
        batch.clear()

    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return tally


def ingest_file(
    path: Path, store: EventStore, ledger: LedgerDB, progress: Progress | None = None
) -> Tally:
    return ingest_records(read_jsonl(path), store, ledger, progress=progress)


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
