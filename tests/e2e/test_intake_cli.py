"""Out-of-order facts, dead letters fixed and replayed, and reconcile, through the CLI."""

import json
from pathlib import Path

from tests.e2e.cli import leadledger, line, report_json


def test_out_of_order_facts_wait_for_what_they_need(tmp_path: Path) -> None:
    stream = tmp_path / "late.jsonl"
    stream.write_text(
        line("deal_won", "w1", "L1", 10, deal_id="D1", amount="1000", currency="EUR")
        + line("stage_changed", "m1", "L1", 3, stage="mql")
        + line("touch", "t1", "L1", 1, channel="paid_search")
        + line("lead_created", "c1", "L1", 2, origin="inbound")
        + line("stage_changed", "s1", "L1", 4, stage="sql")
    )
    result = leadledger("--data-dir", str(tmp_path / "d"), "ingest", str(stream))
    assert "received 5 = stored 5 + duplicates 0 + dead-lettered 0: reconciles" in result.stdout
    assert report_json("--data-dir", str(tmp_path / "d"))["credits"] == [
        {"channel": "paid_search", "currency": "EUR", "conversions": "1", "value": "1000.00"}
    ]


def test_a_corrected_dead_letter_replays_and_changes_the_read_model(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    stream = tmp_path / "typo.jsonl"
    stream.write_text(
        line("touch", "t1", "L1", 1, channel="paid_search")
        + line("lead_created", "c1", "L1", 2, origin="inbound")
        + line("stage_changed", "m1", "L1", 3, stage="mql")
        + line("stage_changed", "s1", "L1", 4, stage="sql")
        + line("deal_won", "w1", "l1", 10, deal_id="D1", amount="1000", currency="EUR")
        + "{broken\n"
    )
    leadledger(*data, "ingest", str(stream))
    reconciled = leadledger(*data, "reconcile", str(stream))
    assert "received 6 = 4 stored + 0 duplicate + 2 dead-letter + 0 parked; unaccounted 0" in (
        reconciled.stdout
    )
    assert report_json(*data)["credits"] == []
    letters = json.loads(leadledger(*data, "deadletters", "list", "--format", "json").stdout)
    [typo] = [d for d in letters if "'l1'" in d["reason"]]
    shown = json.loads(leadledger(*data, "deadletters", "show", str(typo["id"])).stdout)
    fixed = tmp_path / "fixed.json"
    fixed.write_text(shown["payload"]["text"].replace('"l1"', '"L1"'))
    replayed = leadledger(*data, "deadletters", "replay", str(typo["id"]), "--with", str(fixed))
    assert "received 1 = stored 1 + duplicates 0 + dead-lettered 0: reconciles" in replayed.stdout
    assert report_json(*data)["credits"] == [
        {"channel": "paid_search", "currency": "EUR", "conversions": "1", "value": "1000.00"}
    ]
    again = json.loads(leadledger(*data, "deadletters", "show", str(typo["id"])).stdout)
    assert again["replayed_at"] is not None
    broken = next(d for d in letters if d["reason"].startswith("undecodable"))
    still = leadledger(*data, "deadletters", "replay", str(broken["id"]), check=False)
    assert still.returncode == 1
    assert "the record still does not parse" in still.stderr


def test_csv_files_ingest_and_reconcile_like_json_lines(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "type,event_id,lead_id,occurred_at,source_system,channel,origin,stage,deal_id,amount,currency\n"
        "touch,t1,L1,2026-01-01T10:00:00Z,ads,paid_search,,,,,\n"
        "lead_created,c1,L1,2026-01-02T10:00:00Z,crm,,inbound,,,,\n"
        "stage_changed,m1,L1,2026-01-03T10:00:00Z,crm,,,mql,,,\n"
        "stage_changed,s1,L1,2026-01-04T10:00:00Z,crm,,,sql,,,\n"
        "deal_won,w1,L1,2026-01-05T10:00:00Z,crm,,,,D1,250.5,EUR\n"
        "deal_won,w2,L1,2026-01-05T10:00:00Z,crm,,,,D2,abc,EUR\n"
    )
    data = ("--data-dir", str(tmp_path / "d"))
    result = leadledger(*data, "ingest", str(events))
    assert "received 6 = stored 5 + duplicates 0 + dead-lettered 1: reconciles" in result.stdout
    assert "unaccounted 0" in leadledger(*data, "reconcile", str(events)).stdout
    [letter] = json.loads(leadledger(*data, "deadletters", "list", "--format", "json").stdout)
    assert letter["origin"].endswith("events.csv:7")
    assert letter["reason"] == "invalid: deal_won.amount: Input should be a valid decimal"
