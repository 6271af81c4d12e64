"""HTTP intake in Kafka mode on a real broker: valid records are accepted onto the ingest
topic as ``leadledger publish`` sends them, an invalid one is not sent, and once ``run
ingest`` has consumed the topic each key's final fate is readable from the API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from leadledger.config import Database, Kafka
from leadledger.consumers.ingest import run_ingest
from leadledger.consumers.runloop import RunLoop
from leadledger.ledgerdb import LedgerDB
from leadledger.store import open_store
from tests.integration.api import client, problem
from tests.integration.test_api_records import LEAD, record

pytestmark = pytest.mark.kafka


def test_records_are_accepted_onto_the_topic_and_their_fates_follow(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    database = Database.from_settings(data_dir=tmp_path / "data")
    batch = [record("touch", "t1", 1, channel="paid_search"), LEAD, LEAD,
             LEAD | {"origin": "outbound"}, record("touch", "t2", 1)]  # fmt: skip
    with client(database, kafka) as api:
        body = api.post("/api/v1/records", json=batch).json()
        assert body["mode"] == "kafka"
        assert [(r["event_id"], r["fate"]) for r in body["records"]] == [
            ("t1", "accepted"), ("c1", "accepted"), ("c1", "accepted"), ("c1", "accepted"),
            ("t2", "invalid")]  # fmt: skip
        assert body["records"][4]["reason"] == "invalid: touch.channel: Field required"
        problem(api.get("/api/v1/records/crm/c1"), 404, "none has been consumed")

        store, ledger = open_store(database), LedgerDB(database.ledger_url())
        try:
            tally = run_ingest(kafka, store, ledger, RunLoop(until_idle=4, install_signals=False),
                               max_wait=timedelta(seconds=0))  # fmt: skip
        finally:
            ledger.close()
            store.close()
        assert (tally.received, tally.stored, tally.duplicates, tally.dead_lettered) == (4, 2, 1, 1)

        lead = api.get("/api/v1/records/crm/c1").json()
        assert lead["fate"] == "stored"
        assert [d["fate"] for d in lead["deliveries"]] == ["stored", "dead_letter"]
        assert all(d["origin"].startswith(f"{kafka.ingest_topic}/") for d in lead["deliveries"])
        assert lead["deliveries"][1]["reason"].startswith("conflict: idempotency key")
        assert api.get("/api/v1/records/crm/t1").json()["fate"] == "stored"
        problem(api.get("/api/v1/records/crm/t2"), 404, "no record with source_system 'crm'")
        counts = api.get("/api/v1/reconcile", params={"prefix": f"{kafka.ingest_topic}/"}).json()
        assert counts["accounted"] == 4
