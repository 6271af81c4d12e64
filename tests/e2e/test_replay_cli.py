"""Replays through the CLI: new definitions beside the served ones, the diff between them,
"as known at" replays, promotion, and a replay killed midway and resumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leadledger import demo
from tests.e2e.cli import LEADLEDGER, leadledger


def lead_events(lead: str, *steps: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    created = {"type": "lead_created", "event_id": f"{lead}-created", "lead_id": lead,
               "occurred_at": "2026-03-02T09:00:00Z", "source_system": "crm",
               "origin": "inbound", "segment": "smb"}  # fmt: skip
    return [created] + [
        {"type": kind, "event_id": f"{lead}-{kind}-{n}", "lead_id": lead, "occurred_at": at,
         "source_system": "crm", **fields}
        for n, (kind, at, fields) in enumerate(steps)
    ]  # fmt: skip


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


MQL = ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "mql"})
HANDOVER = [
    *lead_events("L1", ("score_changed", "2026-03-02T09:30:00Z", {"score": 55}), MQL,
                 ("mql_accepted", "2026-03-02T15:00:00Z", {"rep": "ana"}),
                 ("contact_attempted", "2026-03-02T16:00:00Z",
                  {"method": "call", "outcome": "connected"}),
                 ("stage_changed", "2026-03-03T10:00:00Z", {"stage": "sql"}),
                 ("sql_confirmed", "2026-03-03T12:00:00Z", {"rep": "ana"})),
    *lead_events("L2", MQL, ("mql_accepted", "2026-03-02T11:00:00Z", {"rep": "ben"})),
    *lead_events("L3", ("score_changed", "2026-03-02T10:00:00Z", {"score": 70}),
                 ("stage_changed", "2026-03-02T10:05:00Z", {"stage": "mql"}),
                 ("mql_rejected", "2026-03-02T17:00:00Z", {"reason": "not_icp"})),
    *lead_events("L4", ("score_changed", "2026-03-02T10:00:00Z", {"score": 20})),
]  # fmt: skip

STRICTER = """
[funnel]
mql = "score"
mql_score = 50

[sla]
mql_response_hours = 4
"""


def test_replay_under_new_definitions_and_the_exact_diff(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    leadledger(*data, "ingest", str(write(tmp_path / "handover.jsonl", HANDOVER)))
    rules = tmp_path / "stricter.toml"
    rules.write_text(STRICTER)
    replayed = leadledger(*data, "replay", "--definitions", str(rules), "--name", "stricter")
    assert "read model stricter (live, sha256:" in replayed.stdout
    found = json.loads(leadledger(*data, "diff", "default", "stricter", "--format", "json").stdout)
    at = "2026-03-02T{}:00+00:00".format

    def conversion(lead: str, event: str, moment: str) -> dict[str, str]:
        return {"conversion_id": f"mql:{lead}-{event}", "lead_id": lead, "kind": "mql",
                "occurred_at": at(moment), "value": "1.00", "currency": "count"}  # fmt: skip

    assert found["conversions"] == {
        "only_in_a": [conversion("L1", "stage_changed-1", "10:00"),
                      conversion("L2", "stage_changed-0", "10:00"),
                      conversion("L3", "stage_changed-1", "10:05")],
        "only_in_b": [conversion("L1", "score_changed-0", "09:30"),
                      conversion("L3", "score_changed-0", "10:00")],
        "changed": [],
    }  # fmt: skip
    assert found["leads"] == [
        {"lead_id": "L1", "what": "first mql", "a": at("10:00"), "b": at("09:30")},
        # 09:30 to 15:00 is 5.5 h: within 8 h, not within 4 h
        {"lead_id": "L1", "what": "sla mql_response cycle 1", "a": "met", "b": "breached"},
        {"lead_id": "L2", "what": "first mql", "a": at("10:00"), "b": None},  # score unknown
        {"lead_id": "L2", "what": "sla first_contact cycle 1", "a": "open", "b": None},
        {"lead_id": "L2", "what": "sla mql_response cycle 1", "a": "met", "b": None},
        {"lead_id": "L3", "what": "first mql", "a": at("10:05"), "b": at("10:00")},
        # 10:00 to 17:00 is 7 h (6 h 55 min from the stage change)
        {"lead_id": "L3", "what": "sla mql_response cycle 1", "a": "met", "b": "breached"},
    ]  # fmt: skip
    assert found["kpis"] == [
        {"period": "2026-03", "name": "accepted", "a": "2", "b": "1"},
        {"period": "2026-03", "name": "mqls", "a": "3", "b": "2"},
        # 5 h + 1 h + 6 h 55 min, then 5.5 h + 7 h
        {"period": "2026-03", "name": "response_hours", "a": "12.9167", "b": "12.5"},
        {"period": "2026-03", "name": "responses", "a": "3", "b": "2"},
        {"period": "2026-03", "name": "lead_quality", "a": "0.6667", "b": "0.5"},  # 2/3, 1/2
        {"period": "2026-03", "name": "lead_to_mql", "a": "0.75", "b": "0.5"},  # of 4 leads
        {"period": "2026-03", "name": "mql_response_hours", "a": "4.3056", "b": "6.25"},
        {"period": "2026-03", "name": "mql_to_sql", "a": "0.3333", "b": "0.5"},  # 1 SQL
    ]
    # The served read model is unchanged until promoted; then reports answer from the new.
    sla = json.loads(leadledger(*data, "report", "sla", "--format", "json",
                                "--now", "2026-03-04T00:00:00Z").stdout)  # fmt: skip
    # Served: the defaults. L2's MQL was never contacted: 24 h from 10:00 have passed.
    assert [(b["lead_id"], b["clock"]) for b in sla["breaches"]] == [("L2", "first_contact")]
    assert "serving stricter" in leadledger(*data, "promote", "stricter").stdout
    sla = json.loads(leadledger(*data, "report", "sla", "--format", "json",
                                "--now", "2026-03-04T00:00:00Z").stdout)  # fmt: skip
    assert [(b["lead_id"], b["clock"]) for b in sla["breaches"]] == [
        ("L1", "mql_response"),
        ("L3", "mql_response"),
    ]  # fmt: skip (L2 is no MQL by score)
    listing = leadledger(*data, "models").stdout
    assert "│ stricter " in listing
    assert "│ default " in listing


def test_sla_report_lists_breaches_and_leads_at_risk(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    waiting = lead_events("L9", ("assigned", "2026-03-02T09:10:00Z", {"rep": "cy", "team": "na"}),
                          MQL)  # fmt: skip
    leadledger(*data, "ingest", str(write(tmp_path / "in.jsonl", HANDOVER + waiting)))
    report = json.loads(leadledger(*data, "report", "sla", "--by", "rep", "--format", "json",
                                   "--now", "2026-03-02T16:30:00Z").stdout)  # fmt: skip
    # L9's MQL has waited 6.5 h of 8: at risk (over 75 %), not yet breached. So has L3's
    # (6 h 25 min): as the SLA stood at 16:30, its rejection at 17:00 had not happened.
    assert [(r["lead_id"], r["clock"], r["used_hours"], r["share"]) for r in report["at_risk"]] == [
        ("L3", "mql_response", "6.42", "0.80"), ("L9", "mql_response", "6.50", "0.81")]  # fmt: skip
    by_rep = {(r["rep"], r["clock"]): r for r in report["compliance"]}
    assert by_rep[("ana", "mql_response")]["met"] == 1
    assert by_rep[("cy", "mql_response")]["open"] == 1
    assert report["rejection_reasons"] == {}
    later = json.loads(leadledger(*data, "report", "sla", "--format", "json",
                                  "--now", "2026-03-05T00:00:00Z").stdout)  # fmt: skip
    # By then L9's MQL is overdue, and L2's first contact (24 h from 10:00) too; L3's
    # rejection has returned its reason.
    assert later["rejection_reasons"] == {"not_icp": 1}
    assert sorted((b["lead_id"], b["clock"]) for b in later["breaches"]) == [
        ("L2", "first_contact"), ("L9", "first_contact"), ("L9", "mql_response")]  # fmt: skip


def test_as_of_replay_reproduces_a_report_taken_before_late_events(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    early = demo.generate(leads=120, seed=11)
    late = [r for r in demo.generate(leads=160, seed=11)  # more leads: 121 to 160
            if r.get("lead_id", "").removeprefix("lead-").isdigit()
            and int(r["lead_id"].removeprefix("lead-")) > 120]  # fmt: skip
    late += [
        {"type": "touch", "event_id": "late-touch", "lead_id": "lead-00003",
         "occurred_at": "2026-01-01T00:00:00Z", "source_system": "offline_import",
         "channel": "events", "kind": "trade_show"},
    ]  # fmt: skip
    leadledger(*data, "ingest", str(write(tmp_path / "early.jsonl", early)))
    reports = [("report", "attribution", "--format", "json"),
               ("report", "kpi", "--format", "json"),
               ("credits", "--model", "linear")]  # fmt: skip
    before = [leadledger(*data, *r).stdout for r in reports]
    time.sleep(0.01)
    cutoff = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    leadledger(*data, "ingest", str(write(tmp_path / "late.jsonl", late)))
    after = [leadledger(*data, *r).stdout for r in reports]
    assert all(a != b for a, b in zip(before, after, strict=True))  # the late events count
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("")
    leadledger(*data, "replay", "--definitions", str(defaults), "--name", "audit",
               "--as-of", cutoff)  # fmt: skip
    audited = [leadledger(*data, *r, "--read-model", "audit").stdout for r in reports]
    assert audited == before  # byte for byte
    refused = leadledger(*data, "promote", "audit", check=False)
    assert refused.returncode == 1
    assert "only a live read model can be served" in refused.stderr


def test_source_time_bound_limits_events_by_when_they_happened(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    leadledger(*data, "ingest", str(write(tmp_path / "handover.jsonl", HANDOVER)))
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("")
    leadledger(*data, "replay", "--definitions", str(defaults), "--name", "morning",
               "--occurred-before", "2026-03-02T10:30:00Z")  # fmt: skip
    report = json.loads(leadledger(*data, "report", "kpi", "--format", "json",
                                   "--read-model", "morning").stdout)  # fmt: skip
    assert report["rows"][0]["measures"]["mqls"] == "3"  # all three MQLs were by 10:30
    assert "responses" not in report["rows"][0]["measures"]  # no answer yet by then


def read_model_rows(database: Path, name: str) -> list[list[tuple[Any, ...]]]:
    """Every row of read model ``name``, without the column that names it."""
    with sqlite3.connect(database) as conn:
        return [
            sorted(
                row[1:] for row in conn.execute(f"SELECT * FROM {table} WHERE model = ?", (name,))
            )
            for table in ("ll_lead_states",)
        ]


def test_a_killed_replay_resumes_to_the_same_read_model(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data = ["--data-dir", str(data_dir)]
    records = demo.generate(leads=3000, seed=3)
    leadledger(*data, "ingest", str(write(tmp_path / "demo.jsonl", records)), timeout=600)
    rules = tmp_path / "rules.toml"
    rules.write_text('[sla.calendar]\nhours = "business"\ntime_zone = "Europe/Berlin"\n'
                     'holidays_country = "DE"\nholidays_subdivision = "BE"\n')  # fmt: skip
    leadledger(*data, "replay", "--definitions", str(rules), "--name", "whole")
    ledger = data_dir / "ledger.db"
    kills = 0
    for _ in range(20):
        process = subprocess.Popen(
            [LEADLEDGER, *data, "replay", "--definitions", str(rules), "--name", "resumed",
             "--page-size", "20"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy(),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        position = 0
        while process.poll() is None and time.monotonic() < deadline:
            with sqlite3.connect(ledger, timeout=30) as conn:
                row = conn.execute(
                    "SELECT position FROM ll_checkpoints WHERE name = 'model:resumed'"
                ).fetchone()
            position = row[0] if row else 0
            if position > 0:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        process.wait()
        if process.returncode == -signal.SIGKILL:
            kills += 1
        if kills >= 2 or process.returncode == 0:
            break
    assert kills >= 1, "the replay finished before it could be killed"
    leadledger(*data, "replay", "--definitions", str(rules), "--name", "resumed")
    whole, resumed = read_model_rows(ledger, "whole"), read_model_rows(ledger, "resumed")
    assert [len(t) for t in whole] == [len(t) for t in resumed]
    assert all(len(t) > 100 for t in whole)
    assert resumed == whole


def test_replay_errors_are_one_precise_line(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    leadledger(*data, "ingest", str(write(tmp_path / "handover.jsonl", HANDOVER)))
    rules = tmp_path / "rules.toml"
    rules.write_text(STRICTER)
    leadledger(*data, "replay", "--definitions", str(rules), "--name", "x")
    other = tmp_path / "other.toml"
    other.write_text("[sla]\nmql_response_hours = 2\n")
    clash = leadledger(*data, "replay", "--definitions", str(other), "--name", "x", check=False)
    assert clash.returncode == 1
    assert "a different read model is already named 'x'" in clash.stderr
    naive = leadledger(*data, "replay", "--definitions", str(other), "--as-of",
                       "2026-03-01T00:00:00", check=False)  # fmt: skip
    assert naive.returncode == 2
    assert "has no time zone" in naive.stderr
    missing = leadledger(*data, "promote", "nope", check=False)
    assert "no read model named 'nope' (known: default, x)" in missing.stderr
    mismatch = leadledger(*data, "report", "attribution", "--definitions", str(rules),
                          check=False)  # fmt: skip
    assert "its [funnel] section differs from read model 'default'" in mismatch.stderr
    served = leadledger(*data, "drop", "default", check=False)
    assert "'default' is served; promote another read model first" in served.stderr
    assert "Traceback" not in clash.stderr + naive.stderr + missing.stderr + mismatch.stderr
    assert "dropped read model x" in leadledger(*data, "drop", "x").stdout
    assert "│ x " not in leadledger(*data, "models").stdout


@pytest.mark.parametrize("name", ["bad name", "../x"])
def test_read_model_names_are_checked(tmp_path: Path, name: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("")
    result = leadledger("--data-dir", str(tmp_path / "d"), "replay", "--definitions", str(rules),
                        "--name", name, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "use letters, digits" in result.stderr
