"""Reading stored events straight into wire records gives exactly what the mapper and
``to_wire`` give, for every event type, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file
from leadledger.store import open_store
from leadledger.wire import STREAM_VERSION, from_stored, to_wire


def every_type() -> list[dict[str, Any]]:
    """One journey that uses each of the 22 ingest event types."""
    steps: list[tuple[str, str | None, dict[str, Any]]] = [
        ("touch", "L1", {"channel": "paid_search", "cost": "1.25", "keyword": "crm"}),
        ("identify", "L1", {"anonymous_id": "a1"}),
        ("lead_created", "L1", {"origin": "inbound", "segment": "smb", "company_size": 40}),
        ("score_changed", "L1", {"score": 70, "model": "fit"}),
        ("assigned", "L1", {"rep": "ana", "team": "emea"}),
        ("stage_changed", "L1", {"stage": "mql"}),
        ("mql_rejected", "L1", {"reason": "too_early", "note": "call in Q3"}),
        ("stage_changed", "L1", {"stage": "mql"}),
        ("mql_accepted", "L1", {"rep": "ana"}),
        *[("contact_attempted", "L1", {"method": "call", "outcome": "no_answer"})] * 3,
        ("stage_changed", "L1", {"stage": "sql"}),
        ("sql_confirmed", "L1", {"rep": "ana"}),
        ("disqualified", "L1", {"reason": "no_response"}),
        ("stage_changed", "L1", {"stage": "mql"}),
        ("stage_changed", "L1", {"stage": "sql"}),
        ("deal_opened", "L1", {"deal_id": "D1", "amount": "900.50", "currency": "EUR"}),
        ("deal_won", "L1", {"deal_id": "D1", "amount": "1000.125", "currency": "EUR"}),
        ("purchase", "L1", {"kind": "upsell", "amount": "250", "currency": "EUR"}),
        ("contraction", "L1", {"amount": "50", "currency": "EUR"}),
        ("churned", "L1", {"reason": "budget"}),
        ("recycled", "L1", {"reason": "other"}),
        ("unlink", "L1", {"anonymous_id": "a1"}),
        ("lead_created", "L2", {"origin": "outbound", "entry_stage": "sql"}),
        ("deal_opened", "L2", {"deal_id": "D2", "amount": None, "currency": None}),
        ("deal_lost", "L2", {"deal_id": "D2", "reason": "competitor_won"}),
        ("merged", "L2", {"into_lead_id": "L1"}),
        ("touch", None, {"anonymous_id": "v9", "channel": "display"}),
        ("spend", None, {"channel": "display", "day": "2026-03-01", "amount": "99.99",
                         "currency": "EUR"}),
        ("plan_target", None, {"period": "2026-Q1", "team": "emea", "amount": "5000",
                               "currency": "EUR"}),
    ]  # fmt: skip
    return [
        {"type": kind, "event_id": f"e{n}", "occurred_at": f"2026-03-02T09:{n:02d}:00.123456Z",
         "source_system": "test", **({"lead_id": lead} if lead else {}), **fields}
        for n, (kind, lead, fields) in enumerate(steps)
    ]  # fmt: skip


def test_direct_reading_equals_the_mapper(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "every.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in every_type()))
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        tally = ingest_file(path, store, ledger)
        assert (tally.stored, tally.dead_lettered) == (len(every_type()), 0), tally.reasons
        read = [n for page in store.notifications(0) for n in page]
        direct = {store.wire(n)[0] for n in read if from_stored(n.topic, n.state) is not None}
        assert len(direct) == 22  # every fact type took the direct way
        for notification in read:
            kind, record = store.wire(notification)
            assert record.pop(STREAM_VERSION) == notification.originator_version
            assert (kind, record) == to_wire(store.decode(notification))
    finally:
        ledger.close()
        store.close()
