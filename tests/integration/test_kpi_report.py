"""The KPI report on a real SQLite ledger: churns booked one by one, and what another
currency leaves out, listed in the report's rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadledger import readmodels
from leadledger.config import Database
from leadledger.kpi_report import kpi_report
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file, project_from_store
from leadledger.store import open_store


def lead(lead_id: str, *steps: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    created = {"type": "lead_created", "event_id": f"{lead_id}-created", "lead_id": lead_id,
               "occurred_at": "2026-01-02T09:00:00Z", "source_system": "crm",
               "origin": "inbound", "segment": "smb"}  # fmt: skip
    return [created] + [
        {"type": kind, "event_id": f"{lead_id}-{n}", "lead_id": lead_id, "occurred_at": at,
         "source_system": "crm", **fields}
        for n, (kind, at, fields) in enumerate(steps)
    ]  # fmt: skip


def won(deal_id: str, amount: str, currency: str = "EUR") -> dict[str, Any]:
    return {"deal_id": deal_id, "amount": amount, "currency": currency}


RECORDS = [
    *lead("L1",
          ("stage_changed", "2026-01-03T09:00:00Z", {"stage": "mql"}),
          ("stage_changed", "2026-01-05T09:00:00Z", {"stage": "sql"}),
          ("deal_won", "2026-01-20T09:00:00Z", won("D1", "1000")),
          ("churned", "2026-03-15T09:00:00Z", {"reason": None}),
          ("recycled", "2026-04-01T09:00:00Z", {"reason": "too_early", "note": None}),
          ("stage_changed", "2026-04-10T09:00:00Z", {"stage": "mql"}),
          ("stage_changed", "2026-04-20T09:00:00Z", {"stage": "sql"}),
          ("deal_won", "2026-05-10T09:00:00Z", won("D2", "5000")),
          ("churned", "2026-08-05T09:00:00Z", {"reason": None})),
    *lead("L2",
          ("stage_changed", "2026-01-03T09:00:00Z", {"stage": "mql"}),
          ("stage_changed", "2026-01-05T09:00:00Z", {"stage": "sql"}),
          ("deal_won", "2026-01-21T09:00:00Z", won("D1", "1000", "USD"))),
    {"type": "spend", "event_id": "sp-1", "occurred_at": "2026-01-02T00:00:00Z",
     "source_system": "google_ads", "channel": "paid_search", "day": "2026-01-01",
     "amount": "300", "currency": "USD"},
]  # fmt: skip


def test_churns_and_left_out_money_in_the_report(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    database = Database.from_settings(data_dir=tmp_path / "data")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        tally = ingest_file(path, store, ledger)
        assert tally.stored == len(RECORDS), tally  # every fact legal, none dead-lettered
        project_from_store(store, ledger)
        report = kpi_report(ledger, readmodels.served(ledger), basis="activity")
    finally:
        ledger.close()
        store.close()
    rows = {row["period"]: row for row in report["rows"]}
    assert {p: r["measures"].get("churned_arr") for p, r in rows.items()} == {
        "2026-01": None, "2026-03": "1000", "2026-04": None, "2026-05": None, "2026-08": "5000",
    }  # fmt: skip
    january = rows["2026-01"]
    assert january["kpis"]["acv"] == "1000"  # the USD deal is out of count and value alike
    assert january["measures"]["new_customers"] == "1"
    assert january["left_out"] == [
        {"kind": "deal_won", "currency": "USD", "count": 1, "amount": "1000"},
        {"kind": "new_customer", "currency": "USD", "count": 1, "amount": None},
        {"kind": "spend", "currency": "USD", "count": 1, "amount": "300"},
    ]
    assert "USD" not in json.dumps([r["measures"] for r in rows.values()])
    assert report["currency_rule"].startswith("money in a currency other than EUR is left out")
