"""Fuzzed JSON Lines and CSV files through ``leadledger ingest`` (issue 11, point 4).

Thousands of generated records per file, valid ones of every type among hostile ones (see
``tests/fuzz.py``): the command never fails with an internal error, reconcile is exact,
every bad record is dead-lettered with a reason, no valid one is refused as invalid, and the
data directory still ingests and reconciles a clean file afterwards.
"""

import hashlib
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB, intake
from tests import fuzz
from tests.e2e.cli import leadledger
from tests.expected import SKELETON_TALLY

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = pytest.mark.fuzz

JSONL_EXAMPLES, CSV_EXAMPLES, BULK = 4, 3, 1000
RECONCILED = re.compile(r"received (\d+) = (\d+) stored \+ (\d+) duplicate \+ (\d+) dead-letter")


def ingest_checked(data_dir: Path, file: Path) -> str:
    """``leadledger ingest FILE``: exit 0, no internal error, and the tally reconciles."""
    result = leadledger("--data-dir", str(data_dir), "ingest", str(file), check=False)
    assert result.returncode != 70, f"internal error on {file}:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "reconciles" in result.stdout
    return result.stdout


def reconciled(data_dir: Path, file: Path) -> int:
    """``leadledger reconcile FILE`` exits 0; returns the records it received."""
    result = leadledger("--data-dir", str(data_dir), "reconcile", str(file), check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "unaccounted 0" in result.stdout
    match = RECONCILED.search(result.stdout)
    assert match, result.stdout
    return int(match[1])


def still_ingests(data_dir: Path, tmp_path: Path) -> None:
    """A clean file ingests into the fuzzed data directory exactly as into a new one."""
    clean = tmp_path / "clean.jsonl"
    shutil.copy(DATA / "skeleton.jsonl", clean)
    assert SKELETON_TALLY in ingest_checked(data_dir, clean)
    reconciled(data_dir, clean)


def digest(file: Path) -> str:
    """Names the generated file: equal on every run, as hypothesis is derandomized."""
    return "sha256 " + hashlib.sha256(file.read_bytes()).hexdigest()[:12]


def wrong_fates(data_dir: Path, expected: Mapping[str, fuzz.Case | fuzz.Row]) -> list[str]:
    ledger = LedgerDB(Database.from_settings(data_dir=data_dir).ledger_url())
    try:
        return fuzz.wrong_fates(ledger, expected)
    finally:
        ledger.close()


def test_fuzzed_json_lines_are_each_accounted_for(tmp_path: Path) -> None:
    batches = fuzz.draw_batches(fuzz.batches(fuzz.json_case, BULK), JSONL_EXAMPLES)
    cases = [case for batch in batches for case in batch]
    assert all(b"\n" not in c.raw and c.raw.strip() for c in cases), "one record per line"
    file = tmp_path / "fuzz.jsonl"
    file.write_bytes(b"".join(case.raw + b"\n" for case in cases))
    data_dir = tmp_path / "data"

    ingest_checked(data_dir, file)

    assert reconciled(data_dir, file) == len(cases)
    origins = {f"{file.resolve()}:{n}": case for n, case in enumerate(cases, start=1)}
    assert wrong_fates(data_dir, origins) == []
    still_ingests(data_dir, tmp_path)
    print(f"fuzz: {len(cases)} JSON Lines records checked ({digest(file)})")
    assert len(cases) >= JSONL_EXAMPLES * BULK


def test_fuzzed_csv_rows_are_each_accounted_for(tmp_path: Path) -> None:
    batches = fuzz.draw_batches(fuzz.batches(fuzz.csv_row, BULK), CSV_EXAMPLES)
    rows = [row for batch in batches for row in batch]
    file = tmp_path / "fuzz.csv"
    file.write_bytes(fuzz.csv_bytes(rows))
    data_dir = tmp_path / "data"

    ingest_checked(data_dir, file)

    assert reconciled(data_dir, file) == len(rows)
    ledger = LedgerDB(Database.from_settings(data_dir=data_dir).ledger_url())
    try:
        prefix = f"{file.resolve()}:"
        mine = ledger.select(intake, intake.c.origin.startswith(prefix, autoescape=True))
        found = sorted((row.origin for row in mine), key=lambda o: int(o.rsplit(":", 1)[1]))
    finally:
        ledger.close()
    # A row may span lines (a quoted line break): its origin is the line it ends on, so the
    # rows' origins, in line order, are the rows in the order they were written.
    origins = dict(zip(found, rows, strict=True))
    assert wrong_fates(data_dir, origins) == []
    still_ingests(data_dir, tmp_path)
    print(f"fuzz: {len(rows)} CSV rows checked ({digest(file)})")
    assert len(rows) >= CSV_EXAMPLES * BULK


def test_hostile_csv_files_are_each_accounted_for(tmp_path: Path) -> None:
    """Files whose structure is broken (no header, a column twice, an unterminated quote, a
    byte-order mark, a header that is not UTF-8): each ingests, and reconcile counts every
    record. (The clean follow-up ingest is checked by the tests above.)"""
    data_dir = tmp_path / "data"
    for number, (content, received, stored) in enumerate(fuzz.HOSTILE_CSV):
        file = tmp_path / f"hostile-{number}.csv"
        file.write_bytes(content)
        tally = ingest_checked(data_dir, file)
        assert f"received {received} = stored {stored} + duplicates 0" in tally, (number, tally)
        assert reconciled(data_dir, file) == received
