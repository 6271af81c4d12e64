"""Helpers of the API tests: demo data in a real database, and a client holding a key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from leadledger import demo
from leadledger.api.app import create_app
from leadledger.api.problems import MEDIA_TYPE
from leadledger.apikeys import KeyStore, Role
from leadledger.config import Database, Kafka
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file, project_from_store
from leadledger.store import open_store


def fill_with_demo(database: Database, folder: Path, leads: int = 120, seed: int = 7) -> None:
    """What ``leadledger demo`` does: a seeded data set ingested and projected."""
    path = demo.write_jsonl(demo.generate(leads, seed), folder / "demo.jsonl")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        ingest_file(path, store, ledger)
        project_from_store(store, ledger)
    finally:
        ledger.close()
        store.close()


def key(database: Database, *roles: Role) -> dict[str, str]:
    """The Authorization header of a new key holding ``roles`` (default: every role)."""
    store = KeyStore(database.ledger_url())
    try:
        _, token = store.create("tests", roles or tuple(Role))
    finally:
        store.close()
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def client(database: Database, kafka: Kafka | None = None) -> Iterator[TestClient]:
    """A client of the app over ``database`` sending a key with every role."""
    with TestClient(create_app(database, kafka), headers=key(database)) as found:
        yield found


def problem(response: Response, status: int, detail: str = "") -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem of ``status`` whose detail says ``detail``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert detail in body["detail"]
    return body
