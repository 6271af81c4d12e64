"""Processes started together on a new database (a deployment's first start, as
docker-compose does it) all open it: the one that loses the race to make the tables
finds them made, and no process dies of the race."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest

from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.store import open_store

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
PROCESSES = 6


def open_both(url: str, barrier: threading.Barrier) -> int:
    """Open the event store and the ledger at the same moment as the other processes
    (``barrier`` is a manager's proxy of a ``threading.Barrier``)."""
    database = Database.from_settings(url=url)
    barrier.wait(timeout=60)
    store = open_store(database)
    ledger = LedgerDB(database.ledger_url())
    try:
        return store.max_position()
    finally:
        store.close()
        ledger.close()


def test_processes_opening_a_new_database_together_all_succeed(postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(PROCESSES)
        with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
            futures = [pool.submit(open_both, postgres_url, barrier) for _ in range(PROCESSES)]
            positions = [future.result(timeout=120) for future in futures]
    assert positions == [0] * PROCESSES
