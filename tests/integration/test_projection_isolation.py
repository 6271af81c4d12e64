"""One stored event that a read model cannot fold is isolated to that event: the read model
goes on, the event is a dead letter (origin ``projection:``), and ``reconcile`` says so."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from leadledger import readmodels
from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB, dead_letters
from leadledger.projections.definitions import DEFAULTS
from leadledger.readmodels import Projector
from tests.e2e.cli import leadledger

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def event(kind: str, event_id: str, hour: int, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"event_id": event_id, "source_system": "crm", "lead_id": "L1",
                  "occurred_at": T0.replace(hour=hour), "recorded_at": T0,
                  "stream_version": hour, **fields}  # fmt: skip


def test_an_event_that_cannot_be_folded_is_left_out_and_dead_lettered(
    database: Database, tmp_path: Path
) -> None:
    ledger = LedgerDB(database.ledger_url())
    try:
        model = readmodels.create(ledger, "m", DEFAULTS, status="ready")
        created = event("lead_created", "c1", 10, origin="outbound", entry_stage="sql",
                        segment=None)  # fmt: skip
        # An amount no validation would let through (not a number): the fold raises.
        poison = event("deal_won", "w1", 11, deal_id="D1", amount="lots", currency="EUR")
        good = event("deal_won", "w2", 12, deal_id="D2", amount=Decimal(7), currency="EUR")
        assert Projector(ledger, model).apply([created, poison, good], {"store": 3}) == 3
        [state] = readmodels.states(ledger, model)
        assert [f.event_id for f in state.facts] == ["c1", "w2"]
        assert [c.conversion_id for c in state.conversions] == ["lead:c1", "sql:c1", "deal_won:w2"]
        assert ledger.position(model.checkpoint, "store") == 3  # it went on
        [letter] = ledger.select(dead_letters)
        assert letter.origin == "projection:m/crm/w1"
        assert letter.reason.startswith("projection: AttributeError")
    finally:
        ledger.close()


def test_reconcile_counts_events_left_out_of_read_models(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = tmp_path / "in.jsonl"
    path.write_text('{"type": "touch", "event_id": "t1", "lead_id": "L1", "channel": "email", '
                    '"occurred_at": "2026-03-01T10:00:00Z", "source_system": "web"}\n')  # fmt: skip
    leadledger("--data-dir", str(data), "ingest", str(path))
    ledger = LedgerDB(Database.from_settings(data_dir=data).ledger_url())
    model = readmodels.served(ledger)
    poison = event("deal_won", "w9", 11, deal_id="D9", amount="lots", currency="EUR")
    Projector(ledger, model).apply(
        [poison], {"store": ledger.position(model.checkpoint, "store") or 0}
    )
    ledger.close()
    result = leadledger("--data-dir", str(data), "reconcile", str(path))
    assert "received 1 = 1 stored" in result.stdout
    assert "1 stored event(s) could not be folded into a read model" in result.stderr
