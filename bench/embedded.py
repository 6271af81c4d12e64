"""The embedded paths a user runs: ``leadledger ingest FILE`` and ``leadledger replay``.

Each function runs in a process of its own (see ``report.in_child``) and returns its
counts, seconds and (added by the caller's wrapper) its peak memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from leadledger import readmodels
from leadledger.compression import inflate
from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import (
    BATCH_SIZE,
    LIFECYCLE_TOPICS,
    PAGE_SIZE,
    ingest_file,
    project_from_store,
    replay_from_store,
)
from leadledger.projections.definitions import DEFAULTS
from leadledger.store import open_store


def sqlite(folder: Path) -> Database:
    """An embedded database in ``folder``, whatever LEADLEDGER_DATABASE_URL says."""
    return Database(url="sqlite", data_dir=folder)


def ingest(path: Path, folder: Path) -> dict[str, Any]:
    """What ``leadledger ingest FILE`` runs: ``ingest_file``, then ``project_from_store``
    (the facts and the live read models follow the new events)."""
    database = sqlite(folder)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    start = time.perf_counter()
    tally = ingest_file(path, store, ledger)
    stored_at = time.perf_counter()
    project_from_store(store, ledger)
    projected_at = time.perf_counter()
    events = store.max_position()
    store.close()
    ledger.close()
    return {
        "received": tally.received, "stored": tally.stored, "dead_lettered": tally.dead_lettered,
        "duplicates": tally.duplicates, "events": events,
        "ingest_s": stored_at - start, "project_s": projected_at - stored_at,
    }  # fmt: skip


def raw_insert(source: Path, target: Path) -> dict[str, Any]:
    """Baseline: eventsourcing's recorder inserting the very events the ingest stored (same
    streams, versions, topics and bytes), ``BATCH_SIZE`` per call, into a fresh SQLite
    store. Only the inserts are timed; reading them from the source store is not."""
    store = open_store(sqlite(source))
    app: Application[UUID] = Application(env=sqlite(target).event_store_env())
    elapsed, count = 0.0, 0
    for page in store.notifications(0, BATCH_SIZE):
        batch = [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                 for n in page]  # fmt: skip
        start = time.perf_counter()
        app.recorder.insert_events(batch)
        elapsed += time.perf_counter() - start
        count += len(batch)
    store.close()
    app.close()
    return {"events": count, "seconds": elapsed}


def replay(folder: Path, name: str) -> dict[str, Any]:
    """What ``leadledger replay --definitions FILE --name NAME`` runs: a new read model
    under the default definitions, folded from the start of the store's log."""
    database = sqlite(folder)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    model = readmodels.create(ledger, name, DEFAULTS)
    start = time.perf_counter()
    covered = replay_from_store(store, ledger, model)
    elapsed = time.perf_counter() - start
    store.close()
    ledger.close()
    return {"covered": covered, "seconds": elapsed}


def raw_read(folder: Path, lifecycle_only: bool) -> dict[str, Any]:
    """Baseline: page the same log with ``select_notifications`` (``PAGE_SIZE`` a page,
    every event or only the types the replay reads) and parse each event's stored JSON
    (inflated first: the store keeps states deflated, see ``leadledger.compression``).
    Nothing else: what any reader of this log pays at the least."""
    store = open_store(sqlite(folder))
    log = store.ordered_log
    end, after, read = store.max_position(), 0, 0
    topics = LIFECYCLE_TOPICS if lifecycle_only else ()
    start = time.perf_counter()
    while after < end:
        page = log.select_notifications(start=after, limit=PAGE_SIZE, stop=end, topics=topics,
                                        inclusive_of_start=False)  # fmt: skip
        for notification in page:
            orjson.loads(inflate(notification.state))
        read += len(page)
        after = page[-1].id if page else end
    elapsed = time.perf_counter() - start
    store.close()
    return {"covered": end, "read": read, "seconds": elapsed}
