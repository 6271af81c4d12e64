"""What the API's routes share: the ledger, and in embedded mode the event store; each
opened on first use and closed with the app."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from fastapi import Request

from leadledger.config import Database, Kafka
from leadledger.ledgerdb import LedgerDB

if TYPE_CHECKING:
    from leadledger.publisher import Publisher
    from leadledger.store import EventStore


class Services:
    """The open resources of one app. Intake is one writer at a time (the embedded store
    and the projection that follows it are single-writer), so it holds ``writing``."""

    def __init__(self, database: Database, kafka: Kafka | None) -> None:
        self.database = database
        self.kafka = kafka
        self.writing = threading.Lock()
        self._opening = threading.Lock()
        self._ledger: LedgerDB | None = None
        self._store: EventStore | None = None
        self._publisher: Publisher | None = None

    @property
    def ledger(self) -> LedgerDB:
        with self._opening:
            if self._ledger is None:
                self._ledger = LedgerDB(self.database.ledger_url())
            return self._ledger

    @property
    def store(self) -> EventStore:
        from leadledger.store import open_store

        with self._opening:
            if self._store is None:
                self._store = open_store(self.database)
            return self._store

    @property
    def publisher(self) -> Publisher:
        """Kafka mode's producer onto the ingest topic (the one ``leadledger publish`` uses)."""
        from leadledger.publisher import Publisher

        assert self.kafka is not None, "no Kafka configured: embedded mode has no publisher"
        with self._opening:
            if self._publisher is None:
                self._publisher = Publisher(self.kafka)
            return self._publisher

    def close(self) -> None:
        with self._opening:
            if self._publisher is not None:
                self._publisher.close()
            if self._store is not None:
                self._store.close()
            if self._ledger is not None:
                self._ledger.close()
            self._ledger = self._store = self._publisher = None


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def ledger(request: Request) -> LedgerDB:
    return services(request).ledger
