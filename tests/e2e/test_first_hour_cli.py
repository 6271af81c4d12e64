"""A new user's first hour: what the CLI suggests works, and what it prints explains itself."""

import json
import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.cli import leadledger, line

DATA = Path(__file__).resolve().parent.parent / "data"


def suggested(output: str) -> list[list[str]]:
    """The commands an output tells the user to run (`leadledger ...` up to `;` or the end)."""
    return [shlex.split(c) for c in re.findall(r"leadledger ([^;\n]+)", output)]


@pytest.mark.parametrize("bound", [(), ("--as-of",), ("--occurred-before",)])
def test_replay_suggests_only_commands_that_work(tmp_path: Path, bound: tuple[str, ...]) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    leadledger(*data, "ingest", str(DATA / "skeleton.jsonl"))
    rules = tmp_path / "rules.toml"
    rules.write_text("[sla]\nmql_response_hours = 2\n")
    until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    replayed = leadledger(*data, "replay", "--definitions", str(rules), "--name", "audit",
                          *(a for b in bound for a in (b, until)))  # fmt: skip
    commands = suggested(replayed.stdout)
    assert ["diff", "default", "audit"] in commands
    assert (["promote", "audit"] in commands) == (not bound)
    if bound:
        assert "cannot be served" in replayed.stdout
    for command in commands:
        leadledger(*data, *command)  # each suggestion runs, exit 0
    assert "--read-model audit" in replayed.stdout
    leadledger(*data, "report", "sla", "--read-model", "audit")


def test_reconcile_of_a_published_file_points_to_the_topic(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = {
        "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADLEDGER_TOPIC_PREFIX": topic_prefix,
        "LEADLEDGER_DATA_DIR": str(tmp_path / "d"),
    }
    published = DATA / "skeleton.jsonl"
    leadledger("publish", str(published), env=env)
    leadledger("run", "ingest", "--until-idle", "5", "--park-seconds", "0", env=env)
    by_file = leadledger("reconcile", str(published), env=env, check=False)
    assert by_file.returncode == 1  # still: the file's records are not accounted as the file's
    assert (
        f"nothing from {published} was ingested from the file; if you published it to Kafka, "
        "run `leadledger reconcile --topic`"
    ) in by_file.stderr
    assert "unaccounted 0" in leadledger("reconcile", "--topic", env=env).stdout


def test_reconcile_of_an_ingested_file_gives_no_hint(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "d"))
    leadledger(*data, "ingest", str(DATA / "skeleton.jsonl"))
    reconciled = leadledger(*data, "reconcile", str(DATA / "skeleton.jsonl"))
    assert "unaccounted 0" in reconciled.stdout
    assert "reconcile --topic" not in reconciled.stderr


def test_dead_letters_list_says_when_and_whether_replayed_in_utc(tmp_path: Path) -> None:
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
    before = datetime.now(UTC)
    leadledger(*data, "ingest", str(stream))
    letters = json.loads(leadledger(*data, "deadletters", "list", "--format", "json").stdout)
    [typo] = [d for d in letters if "'l1'" in d["reason"]]
    fixed = tmp_path / "fixed.json"
    fixed.write_text(line("deal_won", "w1", "L1", 10, deal_id="D1", amount="1000",
                          currency="EUR"))  # fmt: skip
    leadledger(*data, "deadletters", "replay", str(typo["id"]), "--with", str(fixed))

    listed = json.loads(leadledger(*data, "deadletters", "list", "--format", "json").stdout)
    for letter in listed:
        at = datetime.fromisoformat(letter["dead_lettered_at"])
        assert at.utcoffset() == timedelta(0)
        assert before <= at <= datetime.now(UTC)
    replayed = {d["id"]: d["replayed_at"] for d in listed}
    assert replayed.pop(typo["id"]).endswith("+00:00")
    assert list(replayed.values()) == [None]  # the broken line was never re-submitted

    table = leadledger(*data, "deadletters", "list", env={"COLUMNS": "80"}).stdout  # times whole
    assert "dead-lettered at" in table
    assert "replayed" in table
    stamps = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", table)
    assert len(stamps) == 3  # two dead-lettered, one replayed
    rows = [r for r in table.splitlines() if re.match(r"^│ \d", r)]
    assert [r.rstrip("│ ").endswith("-") for r in rows] == [
        d["replayed_at"] is None for d in listed
    ]

    shown = json.loads(leadledger(*data, "deadletters", "show", str(typo["id"])).stdout)
    assert shown["dead_lettered_at"] == next(
        d["dead_lettered_at"] for d in listed if d["id"] == typo["id"]
    )
    assert shown["replayed_at"].endswith("+00:00")
