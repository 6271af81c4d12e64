"""What the CLI refuses rather than half-does: definitions that cannot mean anything (at
load, in one line), a read model whose stored definitions no longer load (it blocks
nothing else), and read-only commands pointed at a place with no data (nothing created)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from leadledger.ledgerdb import LedgerDB
from tests.e2e.cli import leadledger

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with data, shared: a refused replay changes nothing in it."""
    data = tmp_path_factory.mktemp("ingested")
    leadledger("--data-dir", str(data), "ingest", str(DATA / "skeleton.jsonl"))
    return data


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[attribution]\nconversion = "signup"', "attribution.conversion: unknown conversion"),
        ("[attribution]\nlookback_days = -5", "attribution.lookback_days:"),
        ("[attribution.models.time_decay]\nhalf_life_days = 0", "'half_life_days'"),
        ("[kpi.constants]\ngross_margin = nan", "kpi.constants.gross_margin:"),
        ('[kpi.formulas]\nx = "leads > mqls"', "formula 'x'"),
        ('[kpi.formulas]\nx = "' + "+".join(["leads"] * 100_000) + '"', "formula 'x'"),
        ("a = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
def test_replay_refuses_meaningless_definitions_in_one_line(
    ingested: Path, tmp_path: Path, text: str, named: str
) -> None:
    data = ingested
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "\n")
    result = leadledger("--data-dir", str(data), "replay", "--definitions", str(bad), check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {bad}: ")
    assert named in line
    assert "Traceback" not in result.stdout + result.stderr
    assert "sha256-" not in leadledger("--data-dir", str(data), "models").stdout  # none made


def test_a_broken_stored_read_model_blocks_neither_ingest_nor_other_reports(
    tmp_path: Path,
) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    leadledger(*data, "ingest", str(DATA / "skeleton.jsonl"))
    rules = tmp_path / "mql.toml"
    rules.write_text('[attribution]\nconversion = "mql"\n')
    leadledger(*data, "replay", "--definitions", str(rules), "--name", "old")
    # Stored before today's checks: a window of inf, which JSON stored as null.
    with sqlite3.connect(tmp_path / "data" / "ledger.db") as db:
        row = db.execute("SELECT definitions FROM ll_read_models WHERE name = 'old'").fetchone()
        stored = row[0].replace('"conversion_windows":{}', '"conversion_windows":{"email":null}')
        assert stored != row[0]
        db.execute("UPDATE ll_read_models SET definitions = ? WHERE name = 'old'", (stored,))
    ingested = leadledger(*data, "ingest", str(DATA / "spend.jsonl"))
    assert "reconciles" in ingested.stdout
    assert '"conversions": ' in leadledger(*data, "report", "attribution", "--format",
                                           "json").stdout  # fmt: skip
    assert "win_rate" in leadledger(*data, "report", "kpi").stdout
    listing = leadledger(*data, "models").stdout
    assert "│ old " in listing
    assert "broken" in listing
    assert "old is broken: its definitions sha256:" in listing
    assert "no longer load: attribution.conversion_windows.email: Input should be a valid " in (
        listing
    )
    refused = leadledger(*data, "report", "sla", "--read-model", "old", check=False)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert "read model 'old' cannot be used: its definitions sha256:" in line
    assert "attribution.conversion_windows.email: Input should be a valid number" in line
    assert "dropped read model old" in leadledger(*data, "drop", "old").stdout
    assert "│ old " not in leadledger(*data, "models").stdout


READ_ONLY = [
    ("report", "attribution"),
    ("report", "spend"),
    ("report", "sla"),
    ("report", "kpi"),
    ("credits",),
    ("explain", "deal_won:x"),
    ("models",),
    ("diff", "default", "other"),
    ("reconcile", str(DATA / "skeleton.jsonl")),
    ("deadletters", "list"),
    ("deadletters", "show", "1"),
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_refuse_a_data_dir_with_no_data_and_create_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "nonexistent"
    result = leadledger("--data-dir", str(missing), *command, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no leadledger data in SQLite in {missing}: check --data-dir or --database-url "
        "(LEADLEDGER_DATA_DIR, LEADLEDGER_DATABASE_URL), or ingest into it first"
    )
    assert result.stdout == ""
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert leadledger("--data-dir", str(empty), *command, check=False).returncode == 1
    assert list(empty.iterdir()) == []


def test_a_postgres_database_without_engine_tables_is_refused(postgres_url: str) -> None:
    result = leadledger("--database-url", postgres_url, "report", "attribution", check=False)
    assert result.returncode == 1
    assert "error: no leadledger data in PostgreSQL" in result.stderr
    assert not LedgerDB.holds_engine_tables("postgresql+psycopg://" + postgres_url.split("://")[1])
