"""One truth through the CLI (issue "One truth"): producers' idempotency keys, late facts
judged when they happened, hand-over breaches stored and judged, and a replay under a
stricter policy that re-judges history with nothing re-ingested."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.cli import leadledger
from tests.e2e.test_replay_cli import lead_events, write

SQL = ("stage_changed", "2026-03-02T12:00:00Z", {"stage": "sql"})
MQL = ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "mql"})


def attempt(at: str) -> tuple[str, str, dict[str, Any]]:
    return "contact_attempted", at, {"method": "call", "outcome": "no_answer"}


def sla(data: list[str], *extra: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        leadledger(*data, "report", "sla", "--by", "clock-row", "--format", "json",
                   "--now", "2026-04-01T00:00:00Z", *extra).stdout)  # fmt: skip
    return found


def verdicts(report: dict[str, Any], lead: str) -> dict[str, str]:
    return {f"{c['clock']} {c['cycle']}/{c['seq']}": c["verdict"] for c in report["clocks"]
            if c["lead_id"] == lead}  # fmt: skip


def test_one_event_id_on_two_leads_is_a_conflict_or_two_facts(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    touch = {"type": "touch", "event_id": "1", "occurred_at": "2026-03-01T10:00:00Z",
             "source_system": "ads", "channel": "paid_search"}  # fmt: skip
    records = [
        touch | {"lead_id": "L1"},
        touch | {"lead_id": "L2"},  # same key, other content
        touch | {"lead_id": "L1", "source_system": "crm"},  # another producer's "1"
        touch | {"lead_id": "L1"},
    ]  # fmt: skip  (a true duplicate)
    result = leadledger(*data, "ingest", str(write(tmp_path / "in.jsonl", records)))
    assert "received 4 = stored 2 + duplicates 1 + dead-lettered 1: reconciles" in result.stdout
    [letter] = json.loads(leadledger(*data, "deadletters", "list", "--format", "json").stdout)
    assert "conflict: idempotency key (source_system 'ads', event_id '1')" in letter["reason"]
    credits = leadledger(*data, "credits", "--conversion", "lead", "--model", "linear")
    assert credits.returncode == 0
    reconcile = leadledger(*data, "reconcile", str(tmp_path / "in.jsonl"))
    assert "received 4 = 2 stored + 1 duplicate + 1 dead-letter + 0 parked; unaccounted 0" in (
        reconcile.stdout
    )


def test_breaches_are_stored_and_judged_and_a_stricter_replay_re_judges_them(
    tmp_path: Path,
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    records = [
        # Rejected without a reason tag: stored, and its reason_returned check breached.
        *lead_events("R1", MQL, ("mql_rejected", "2026-03-02T11:00:00Z", {})),
        # Disqualified for no_response after 3 attempts: met now, breached under 4.
        *lead_events("D3", MQL, SQL, attempt("2026-03-02T13:00:00Z"),
                     attempt("2026-03-02T14:00:00Z"), attempt("2026-03-02T15:00:00Z"),
                     ("disqualified", "2026-03-03T09:00:00Z", {"reason": "no_response"})),
        # Disqualified with 0 attempts before it; the 5 attempts made after it (delivered
        # first) do not count.
        *lead_events("D0", MQL, SQL, *[attempt(f"2026-03-04T1{n}:00:00Z") for n in range(5)],
                     ("disqualified", "2026-03-03T09:00:00Z", {"reason": "no_response"})),
        # Disqualified as an MQL, with an unknown tag: both policy breaches.
        *lead_events("M1", MQL, ("disqualified", "2026-03-02T11:00:00Z",
                                 {"reason": "budget freeze"})),
    ]  # fmt: skip
    result = leadledger(*data, "ingest", str(write(tmp_path / "in.jsonl", records)))
    assert f"received {len(records)} = stored {len(records)}" in result.stdout
    report = sla(data)
    assert verdicts(report, "R1")["reason_returned 0/0"] == "breached"
    assert verdicts(report, "D3")["contact_attempts 0/0"] == "met"
    [d0] = [c for c in report["clocks"] if (c["lead_id"], c["clock"]) == ("D0", "contact_attempts")]
    assert (d0["verdict"], d0["working_seconds"], d0["limit"]) == ("breached", 0.0, 3.0)
    assert verdicts(report, "M1")["disqualified_after_sql 0/0"] == "breached"
    assert verdicts(report, "M1")["reason_returned 0/0"] == "breached"
    assert report["rejection_reasons"] == {"(none)": 1, "budget freeze": 1, "no_response": 2}

    strict = tmp_path / "strict.toml"
    strict.write_text("[sla]\nmin_contact_attempts = 4\n")
    leadledger(*data, "replay", "--definitions", str(strict), "--name", "strict")
    changes = json.loads(leadledger(*data, "diff", "default", "strict", "--format", "json").stdout)
    assert [(c["lead_id"], c["what"], c["a"], c["b"]) for c in changes["leads"]] == [
        ("D3", "sla contact_attempts cycle 0 #0", "met", "breached")]  # fmt: skip
    csv = leadledger(*data, "report", "sla", "--by", "clock-row", "--format", "csv",
                     "--read-model", "strict").stdout  # fmt: skip
    assert csv.splitlines()[0].startswith("lead_id,cycle,clock,seq,started_at,deadline,ended_at")
    assert any(line.startswith("D3,0,contact_attempts,0,") and ",breached," in line
               for line in csv.splitlines())  # fmt: skip


def test_a_late_acceptance_is_stored_in_its_place(tmp_path: Path) -> None:
    """mql_accepted delivered after the SQL it preceded: stored, and the MQL clock met."""
    data = ["--data-dir", str(tmp_path / "data")]
    records = lead_events("L1", MQL, SQL, ("mql_accepted", "2026-03-02T11:00:00Z", {"rep": "a"}))
    result = leadledger(*data, "ingest", str(write(tmp_path / "in.jsonl", records)))
    assert f"received {len(records)} = stored {len(records)}" in result.stdout
    [clock] = [c for c in sla(data)["clocks"] if c["clock"] == "mql_response"]
    assert (clock["verdict"], clock["ended_at"], clock["rep"]) == (
        "met", "2026-03-02T11:00:00+00:00", "a")  # fmt: skip
