"""Identity stitching: anonymous touches join the lead's path, whichever arrives first."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file, project_from_store
from leadledger.projections.definitions import DEFAULTS
from leadledger.readmodels import served
from leadledger.reports import attribution_report, stitched_paths
from leadledger.store import open_store


def event(kind: str, event_id: str, day: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": event_id, "occurred_at": f"2026-02-{day:02d}T10:00:00Z",
            "source_system": "test", **fields}  # fmt: skip


FUNNEL = [
    event("lead_created", "c7", 5, lead_id="L7", origin="inbound"),
    event("stage_changed", "m7", 6, lead_id="L7", stage="mql"),
    event("stage_changed", "s7", 7, lead_id="L7", stage="sql"),
    event("deal_won", "w7", 20, lead_id="L7", deal_id="D7", amount="700", currency="EUR"),
    event("touch", "t7", 4, lead_id="L7", channel="email"),
]
VISITOR = [
    event("touch", "v1", 1, anonymous_id="cookie-1", channel="paid_social"),
    event("touch", "v2", 2, anonymous_id="cookie-1", channel="display"),
]


@pytest.fixture
def ingest(database: Database, tmp_path: Path) -> Iterator[Any]:
    store, ledger = open_store(database), LedgerDB(database.ledger_url())

    def run(records: list[dict[str, Any]]) -> dict[str, Any]:
        path = tmp_path / f"batch-{len(list(tmp_path.iterdir()))}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        tally = ingest_file(path, store, ledger)
        assert tally.dead_lettered == 0, tally.reasons
        project_from_store(store, ledger)
        return attribution_report(ledger, served(ledger), "first_touch", DEFAULTS)

    yield run, ledger
    ledger.close()
    store.close()


def channels(report: dict[str, Any]) -> list[str]:
    return [row["channel"] for row in report["credits"]]


@pytest.mark.parametrize("identify_first", [True, False])
def test_visitor_touches_join_the_lead_whichever_arrives_first(
    ingest: Any, identify_first: bool
) -> None:
    run, _ = ingest
    link = [event("identify", "i1", 8, lead_id="L7", anonymous_id="cookie-1")]
    if identify_first:
        run(FUNNEL + link)
        report = run(VISITOR)
    else:
        run(VISITOR + FUNNEL)
        assert channels(run([])) == ["email"]
        report = run(link)
    assert channels(report) == ["paid_social"]


def test_unlink_removes_the_visitor_and_merge_combines_journeys(ingest: Any) -> None:
    run, ledger = ingest
    run(VISITOR + FUNNEL + [event("identify", "i1", 8, lead_id="L7", anonymous_id="cookie-1")])
    assert channels(run([event("unlink", "u1", 9, lead_id="L7", anonymous_id="cookie-1")])) == [
        "email"
    ]
    merged = run([
        event("touch", "t8", 1, lead_id="L8", channel="referral"),
        event("lead_created", "c8", 2, lead_id="L8", origin="inbound"),
        event("merged", "g8", 9, lead_id="L8", into_lead_id="L7"),
    ])  # fmt: skip
    assert channels(merged) == ["referral"]
    assert sorted(t.event_id for t in stitched_paths(ledger, served(ledger))["L7"]) == ["t7", "t8"]
