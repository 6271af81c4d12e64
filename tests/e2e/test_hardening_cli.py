"""Nothing wedges (issue 11): inputs that once stopped ingest for good, through the CLI."""

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.cli import LEADLEDGER, leadledger


def record(kind: str, event_id: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "event_id": event_id, "source_system": "src",
                       "occurred_at": "2026-01-02T10:00:00Z", **fields}) + "\n"  # fmt: skip


BUDGET = (
    record("spend", "sp1", channel="paid_search", day="2026-01-01", amount="10", currency="EUR")
    + record("plan_target", "pt1", period="2026-Q1", amount="100", currency="EUR")
    + record("touch", "v1", channel="direct", anonymous_id="cookie-1")
)


def test_a_second_process_appends_to_spend_target_and_visitor_streams(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    first, again = tmp_path / "first.jsonl", tmp_path / "again.jsonl"
    first.write_text(BUDGET)
    again.write_text(
        BUDGET  # the same records: duplicates
        + record("spend", "sp2", channel="paid_search", day="2026-01-01", amount="12",
                 currency="EUR")  # a correction of the same channel and day
        + record("plan_target", "pt2", period="2026-Q1", amount="120", currency="EUR")
        + record("touch", "v2", channel="email", anonymous_id="cookie-1")
    )  # fmt: skip
    leadledger(*data, "ingest", str(first))
    result = leadledger(*data, "ingest", str(again))
    assert "received 6 = stored 3 + duplicates 3 + dead-lettered 0: reconciles" in result.stdout
    rerun = leadledger(*data, "ingest", str(again))
    assert "received 6 = stored 0 + duplicates 6 + dead-lettered 0: reconciles" in rerun.stdout


def test_two_concurrent_ingests_of_one_file_both_finish(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    stream = tmp_path / "budget.jsonl"
    stream.write_text(
        "".join(
            record("spend", f"sp{i}", channel=f"ch{i % 7}", day="2026-01-01", amount=str(i),
                   currency="EUR")
            + record("touch", f"v{i}", channel="direct", anonymous_id=f"cookie-{i % 5}")
            for i in range(200)
        )
    )  # fmt: skip
    leadledger(*data, "ingest", str(stream))  # the data directory exists before the race
    rival = tmp_path / "rival.jsonl"
    rival.write_text(stream.read_text().replace('"event_id": "', '"event_id": "rival-'))
    runs = [
        subprocess.Popen([LEADLEDGER, *data, "ingest", str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for path in (stream, rival, rival)
    ]  # fmt: skip
    for run in runs:
        stdout, stderr = run.communicate(timeout=180)
        assert run.returncode == 0, stderr
        assert "reconciles" in stdout
    total = leadledger(*data, "reconcile", str(rival))
    assert "received 400 = 400 stored + 0 duplicate + 0 dead-letter" in total.stdout


def test_a_poison_line_is_dead_lettered_and_ingest_goes_on(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    stream = tmp_path / "poison.jsonl"
    stream.write_text(
        "[" * 200_000 + "\n"
        + "[" * 1000 + "\n"
        + record("touch", "t1", channel="email", lead_id="L1")
    )  # fmt: skip
    first = leadledger(*data, "ingest", str(stream))
    assert "received 3 = stored 1 + duplicates 0 + dead-lettered 2: reconciles" in first.stdout
    again = leadledger(*data, "ingest", str(stream))  # nor does it stop a later run
    assert "received 3 = stored 0 + duplicates 1 + dead-lettered 2: reconciles" in again.stdout
    reconciled = leadledger(*data, "reconcile", str(stream))
    assert "received 3 = 1 stored + 0 duplicate + 2 dead-letter + 0 parked; unaccounted 0" in (
        reconciled.stdout
    )
    letters = json.loads(leadledger(*data, "deadletters", "list", "--format", "json").stdout)
    assert sorted(d["origin"].rsplit(":", 1)[1] for d in letters) == ["1", "2"]  # once each
    for letter in letters:  # replaying a poison letter says why, in one line
        replayed = leadledger(*data, "deadletters", "replay", str(letter["id"]), check=False)
        assert replayed.returncode == 1
        assert "the record still does not parse: undecodable: " in replayed.stderr


def test_a_time_out_of_range_is_dead_lettered_not_stored(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    stream = tmp_path / "times.jsonl"
    touch = {"type": "touch", "source_system": "web", "channel": "email", "lead_id": "L1"}
    stream.write_text(
        json.dumps(touch | {"event_id": "t0", "occurred_at": "0001-01-01T00:30:00+01:00"}) + "\n"
        + json.dumps(touch | {"event_id": "t9", "occurred_at": "9999-12-31T23:59:59-01:00"})
        + "\n" + json.dumps(touch | {"event_id": "tn", "occurred_at": 1700000000}) + "\n"
        + record("touch", "t1", channel="email", lead_id="L1")
    )  # fmt: skip
    result = leadledger(*data, "ingest", str(stream))
    assert "received 4 = stored 1 + duplicates 0 + dead-lettered 3: reconciles" in result.stdout
    leadledger(*data, "report", "kpi")  # the projection and reports still run


def test_report_values_cannot_run_as_formulas_or_drive_the_terminal(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    evil = '=HYPERLINK("http://evil")'
    lead = {"lead_id": "L1"}
    stream = tmp_path / "evil.jsonl"
    stream.write_text(
        record("touch", "t1", channel=evil, **lead)
        + record("touch", "t2", channel="web\x1b]0;pwned\x07\x1b[2J", **lead)
        + record("lead_created", "c1", origin="inbound", **lead)
        + record("stage_changed", "m1", stage="mql", **lead)
        + record("stage_changed", "s1", stage="sql", **lead)
        + record("deal_won", "w1", deal_id="D1", amount="100", currency="EUR", **lead)
        + record("spend", "sp1", channel="@SUM(1)", day="2026-01-01", amount="5", currency="EUR")
    )  # fmt: skip
    leadledger(*data, "ingest", str(stream))
    csv_outputs = [
        leadledger(*data, "report", "attribution", "--model", "linear", "--format", "csv"),
        leadledger(*data, "credits", "--model", "linear"),
        leadledger(*data, "report", "spend", "--format", "csv"),
    ]
    cells = [
        [c for row in csv.reader(io.StringIO(result.stdout)) for c in row] for result in csv_outputs
    ]
    for found in cells:
        assert not [c for c in found if c[:1] in ("=", "+", "@", "\t")], found
        assert not [c for c in found if c[:1] == "-" and not c[1:].replace(".", "").isdigit()]
    assert f"'{evil}" in cells[0]
    assert f"'{evil}" in cells[1]
    assert "'@SUM(1)" in cells[2]
    table = leadledger(*data, "report", "attribution", "--model", "linear").stdout
    assert "\x1b" not in table
    assert "\x07" not in table
    assert "web\\x1b]0;pwned\\x07" in table  # shown, not obeyed
