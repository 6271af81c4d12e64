"""The embedded mode: files in, event store, and projections that follow the store's log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from eventsourcing.utils import get_topic

from leadledger.domain.lead import Lead
from leadledger.files import FileRecord, read_records
from leadledger.ingest import Ingestor, Tally
from leadledger.intake import Intake, Received
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.facts import Row, rows_for
from leadledger.projections.lifecycle import LIFECYCLE_TYPES
from leadledger.readmodels import (
    FACTS,
    STORE_STREAM,
    Projector,
    ReadModel,
    fewer_collections,
    live_models,
)
from leadledger.store import EventStore

BATCH_SIZE = 2000
PAGE_SIZE = 1000

Progress = Callable[[int], None]

# The stored event types the lifecycle fold reads: read models page only these.
LIFECYCLE_TOPICS = sorted(
    get_topic(cls)
    for cls in vars(Lead).values()
    if isinstance(cls, type) and getattr(cls, "NAME", None) in LIFECYCLE_TYPES
)


def ingest_records(
    records: Iterable[FileRecord],
    store: EventStore,
    ledger: LedgerDB,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> Tally:
    """Settle records in batches (see ``intake``); at the end, dead-letter what is parked.

    The garbage collector runs less often meanwhile: the event store keeps the streams it
    loaded in memory, and at the default thresholds the collector re-examined them all
    the time (about a tenth of an ingest's CPU on 62,754 generated records)."""
    intake = Intake(Ingestor(store), ledger, max_wait=timedelta(days=365))
    tally = Tally()
    batch: list[Received] = []
    with fewer_collections():
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


def behind(store: EventStore, ledger: LedgerDB) -> int:
    """Log positions the facts and the live read models have still to read (the most)."""
    names = [FACTS] + [m.checkpoint for m in live_models(ledger)]
    done = min(ledger.position(name, STORE_STREAM) or 0 for name in names)
    return store.max_position() - done


def project_from_store(
    store: EventStore, ledger: LedgerDB, progress: Progress | None = None
) -> int:
    """Bring the facts and every live read model up to the end of the store's log; return
    the log positions the facts advanced by."""
    after = ledger.position(FACTS, STORE_STREAM) or 0
    count = 0
    # After an ingest the event store still holds its cached streams: at the default
    # thresholds the collector re-examined them all the time (a third of this loop's CPU).
    with fewer_collections():
        for page in store.notifications(after, PAGE_SIZE):
            rows: list[Row] = []
            for notification in page:
                rows.extend(rows_for(*store.wire(notification)))
            ledger.commit(rows, FACTS, {STORE_STREAM: page[-1].id})
            count += len(page)
            if progress:
                progress(len(page))
    for model in live_models(ledger):
        replay_from_store(store, ledger, model)
    return count


def replay_from_store(
    store: EventStore,
    ledger: LedgerDB,
    model: ReadModel,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> int:
    """Fold the store's log into ``model`` from its checkpoint to the end; return the log
    positions covered. Only the event types the fold reads are paged."""
    after = ledger.position(model.checkpoint, STORE_STREAM) or 0
    end = store.max_position()
    projector = Projector(ledger, model)
    start = after
    with fewer_collections():
        while after < end:
            page = store.ordered_log.select_notifications(
                start=after, limit=page_size, stop=end, topics=LIFECYCLE_TOPICS,
                inclusive_of_start=False,
            )  # fmt: skip
            reached = page[-1].id if page else end
            projector.apply([store.wire(n) for n in page], {STORE_STREAM: reached})
            if progress:
                progress(reached - after)
            after = reached
    return end - start
