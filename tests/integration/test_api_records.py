"""HTTP intake in embedded mode and the fate of each record, on SQLite and PostgreSQL: a
mixed batch (valid, duplicate, conflicting, invalid, waiting for a fact) is answered record
by record, and each key's fate (stored, duplicate delivery, parked, dead-lettered) is then
readable by its idempotency key; reconcile counts every record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.limits import MAX_BATCH_BYTES, MAX_BATCH_RECORDS
from tests.integration.api import client, problem


def record(kind: str, event_id: str, day: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": event_id, "lead_id": "L1", "source_system": "crm",
            "occurred_at": f"2026-01-{day:02d}T10:00:00Z", **fields}  # fmt: skip


LEAD = record("lead_created", "c1", 2, origin="inbound")
WON = record("deal_won", "w1", 10, deal_id="D1", amount="1000", currency="EUR")


def test_a_mixed_batch_gets_a_fate_per_record_and_each_key_its_fate(database: Database) -> None:
    batch = [
        record("touch", "t1", 1, channel="paid_search"),
        LEAD,
        LEAD,  # the same record again
        LEAD | {"origin": "outbound"},  # the same key, other content
        record("touch", "t2", 1),  # no channel
        "not an object",
        WON,  # the lead has not reached SQL yet: it waits
    ]
    with client(database) as api:
        answer = api.post("/api/v1/records", json=batch)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["mode"], body["received"]) == ("embedded", len(batch))
        fates = [(r["source_system"], r["event_id"], r["fate"]) for r in body["records"]]
        assert fates == [
            ("crm", "t1", "stored"), ("crm", "c1", "stored"), ("crm", "c1", "duplicate"),
            ("crm", "c1", "dead_letter"), ("crm", "t2", "dead_letter"),
            (None, None, "dead_letter"), ("crm", "w1", "parked"),
        ]  # fmt: skip
        reasons = [r["reason"] for r in body["records"]]
        assert reasons[3].startswith("conflict: idempotency key (source_system 'crm'")
        assert reasons[4] == "invalid: touch.channel: Field required"
        assert reasons[5] == "undecodable: expected an object, got str"
        assert "deal_won refused" in reasons[6]

        stored = api.get("/api/v1/records/crm/c1").json()
        assert (stored["fate"], stored["reason"]) == ("stored", None)
        assert [d["fate"] for d in stored["deliveries"]] == ["stored", "duplicate", "dead_letter"]
        assert stored["read_model"]["name"] == "default"
        parked = api.get("/api/v1/records/crm/w1").json()
        assert (parked["fate"], parked["reason"]) == ("parked", reasons[6])
        invalid = api.get("/api/v1/records/crm/t2").json()
        assert (invalid["fate"], invalid["reason"]) == ("dead_letter", reasons[4])
        problem(api.get("/api/v1/records/crm/never-sent"), 404, "no record with source_system")

        # The facts the deal waited for arrive: the parked one is stored, and reported.
        later = [record("stage_changed", "m1", 3, stage="mql"),
                 record("stage_changed", "s1", 4, stage="sql")]  # fmt: skip
        assert [r["fate"] for r in api.post("/api/v1/records", json=later).json()["records"]] == [
            "stored", "stored"]  # fmt: skip
        assert api.get("/api/v1/records/crm/w1").json()["fate"] == "stored"
        credits = api.get("/api/v1/reports/attribution").json()["credits"]
        assert credits == [{"channel": "paid_search", "conversions": "1", "currency": "EUR",
                            "value": "1000.00"}]  # fmt: skip

        counts = api.get("/api/v1/reconcile", params={"prefix": "http:"}).json()
        assert (counts["stored"], counts["duplicate"], counts["dead_letter"], counts["parked"]) == (
            5, 1, 3, 0)  # fmt: skip
        assert counts["accounted"] == len(batch) + len(later)
        letters = api.get("/api/v1/dead-letters", params={"origin": "http:", "limit": 2}).json()
        assert letters["page"] == {"limit": 2, "offset": 0, "total": 3}
        assert {d["replayed_at"] for d in letters["dead_letters"]} == {None}


def test_a_batch_must_be_a_bounded_json_array(database: Database) -> None:
    with client(database) as api:
        problem(api.post("/api/v1/records", content=b"{"), 422, "the body is not JSON")
        problem(api.post("/api/v1/records", json={"records": []}), 422, "must be a JSON array")
        over = b"[" + b" " * MAX_BATCH_BYTES + b"]"
        problem(api.post("/api/v1/records", content=over), 413, f"limit of {MAX_BATCH_BYTES}")
        too_many = [LEAD] * (MAX_BATCH_RECORDS + 1)
        problem(api.post("/api/v1/records", json=too_many), 422, "over the limit of 5000 per")
        assert api.post("/api/v1/records", json=[]).json()["records"] == []


def test_a_database_gone_is_a_503_problem(postgres_admin_url: str, postgres_url: str) -> None:
    with client(Database.from_settings(url=postgres_url)) as api:
        assert api.post("/api/v1/records", json=[LEAD]).status_code == 200
        name = postgres_url.rpartition("/")[2]
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        problem(api.get("/api/v1/records/crm/c1"), 503, "the database does not answer")


def test_a_record_parked_over_http_keeps_its_wait_through_other_runs(
    database: Database, tmp_path: Path
) -> None:
    """A file ingest and a dead-letter replay end by dead-lettering what *they* parked; a
    record parked by HTTP intake keeps its own wait, and neither run counts it."""
    from leadledger.pipeline import ingest_file
    from leadledger.store import open_store

    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(record("touch", "o1", 3, lead_id="L9", channel="email")) + "\n")
    with client(database) as api:
        assert api.post("/api/v1/records", json=[WON]).json()["records"][0]["fate"] == "parked"
        store, ledger = open_store(database), LedgerDB(database.ledger_url())
        try:
            tally = ingest_file(other, store, ledger)
        finally:
            ledger.close()
            store.close()
        assert (tally.received, tally.stored, tally.dead_lettered) == (1, 1, 0)
        assert api.get("/api/v1/records/crm/w1").json()["fate"] == "parked"

        bad = record("touch", "b1", 4, lead_id="L9")  # no channel: a dead letter
        api.post("/api/v1/records", json=[bad])
        (letter,) = api.get("/api/v1/dead-letters", params={"origin": "http:"}).json()[
            "dead_letters"
        ]
        fixed = api.post(f"/api/v1/dead-letters/{letter['id']}/replay",
                         json={**bad, "channel": "email"}).json()  # fmt: skip
        assert (fixed["stored"], fixed["dead_lettered"]) == (1, 0)
        assert api.get("/api/v1/records/crm/w1").json()["fate"] == "parked"


def test_a_lone_surrogate_in_a_key_is_that_record_s_dead_letter_not_a_server_error(
    database: Database,
) -> None:
    body = ('[{"type":"touch","event_id":"u-\\ud800","lead_id":"L1","source_system":"crm",'
            '"occurred_at":"2026-01-01T10:00:00Z","channel":"email"},'
            + json.dumps(record("touch", "u-ok", 1, channel="email")) + "]")  # fmt: skip
    with client(database) as api:
        answer = api.post("/api/v1/records", content=body.encode(),
                          headers={"content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        bad, good = answer.json()["records"]
        assert bad["fate"] == "dead_letter"
        assert "lone surrogate" in bad["reason"]
        assert good["fate"] == "stored"


def test_an_event_id_with_a_slash_is_found_by_its_key(database: Database) -> None:
    slashed = record("touch", "crm/123", 1, channel="email")
    with client(database) as api:
        assert api.post("/api/v1/records", json=[slashed]).json()["records"][0]["fate"] == (
            "stored"
        )
        found = api.get("/api/v1/records/crm/crm/123")
        assert found.status_code == 200, found.text
        assert (found.json()["event_id"], found.json()["fate"]) == ("crm/123", "stored")
