"""The admin use cases on real SQLite and PostgreSQL, as the CLI and the API call them:
replay beside the served read model, diff, promote, drop, the report-time definitions rule,
and dead letters listed, shown, re-submitted and reconciled."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leadledger import readmodels
from leadledger.app import admin
from leadledger.app.deadletters import get_letter, list_letters, reconcile, replay_letter
from leadledger.app.errors import NotFound, Refused, Unprocessable
from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import Progress, ingest_file, project_from_store
from leadledger.projections.definitions import Definitions
from leadledger.readmodels import ReadModelError
from leadledger.store import EventStore, open_store
from tests.conftest import DATA

SCORED = Definitions.model_validate({"funnel": {"mql": "score", "mql_score": 50}})
LONGER_LOOKBACK = Definitions.model_validate({"attribution": {"lookback_days": 30}})
BAD = {"type": "touch", "event_id": "bad-1"}
FIXED = BAD | {"lead_id": "L1", "occurred_at": "2026-01-01T11:00:00Z", "source_system": "x",
               "channel": "email"}  # fmt: skip


@pytest.fixture
def ingested(database: Database, tmp_path: Path) -> Iterator[tuple[EventStore, LedgerDB, Path]]:
    """The skeleton data set and one record that lacks its required fields, ingested."""
    path = tmp_path / "in.jsonl"
    path.write_text((DATA / "skeleton.jsonl").read_text() + json.dumps(BAD) + "\n")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        ingest_file(path, store, ledger)
        project_from_store(store, ledger)
        yield store, ledger, path
    finally:
        ledger.close()
        store.close()


def test_replay_diff_promote_drop(
    database: Database, ingested: tuple[EventStore, LedgerDB, Path]
) -> None:
    store, ledger, _ = ingested
    steps: list[tuple[str, int]] = []

    def run(label: str, total: int, work: Callable[[Progress], int]) -> int:
        steps.append((label, total))
        return work(lambda _n: None)

    done = admin.replay(ledger, database, SCORED, "scored", run=run)
    assert done.model.name == "scored"
    assert done.served == "default"
    assert done.covered == store.max_position()
    assert steps == [("replaying", store.max_position())]
    assert readmodels.get(ledger, "scored").status == "ready"
    again = admin.replay(ledger, database, SCORED, "scored")  # resumes: nothing left to do
    assert again.covered == 0

    changes = admin.diff(ledger, "default", "scored")
    assert changes["a"].startswith("default (live, ")
    assert [c["lead_id"] for c in changes["conversions"]["only_in_a"]] == ["L1", "L2", "L3"]
    assert admin.diff(ledger, "scored", "scored")["conversions"] == {
        "only_in_a": [], "only_in_b": [], "changed": []}  # fmt: skip

    model, before = admin.promote(ledger, "scored")
    assert (model.name, before.name) == ("scored", "default")
    assert readmodels.served(ledger).name == "scored"
    with pytest.raises(Refused, match="'scored' is served; promote another read model first"):
        admin.drop(ledger, "scored")
    admin.drop(ledger, "default")
    assert [m.name for m in readmodels.all_models(ledger)] == ["scored"]
    with pytest.raises(ReadModelError, match="no read model named 'default'"):
        admin.drop(ledger, "default")


def test_replay_names_a_read_model_by_its_definitions_hash(
    database: Database, ingested: tuple[EventStore, LedgerDB, Path]
) -> None:
    _, ledger, _ = ingested
    done = admin.replay(ledger, database, SCORED)
    assert done.model.name == SCORED.hash.replace(":", "-")


def test_reports_may_change_attribution_settings_only(
    ingested: tuple[EventStore, LedgerDB, Path],
) -> None:
    _, ledger, _ = ingested
    model, definitions = admin.read_model_under(ledger, None)
    assert (model.name, definitions) == ("default", model.definitions)
    model, definitions = admin.read_model_under(ledger, "default", LONGER_LOOKBACK)
    assert definitions is LONGER_LOOKBACK
    with pytest.raises(admin.DefinitionsMismatch) as refused:
        admin.read_model_under(ledger, None, SCORED)
    assert (refused.value.section, refused.value.model) == ("funnel", "default")
    assert refused.value.status == 409


def test_dead_letters_listed_shown_and_replayed(
    ingested: tuple[EventStore, LedgerDB, Path], tmp_path: Path
) -> None:
    store, ledger, path = ingested
    letters = list_letters(ledger)
    assert [d.id for d in letters] == sorted(d.id for d in letters)
    [letter] = [d for d in letters if d.origin == f"{path.resolve()}:25"]
    assert letter.reason.startswith("invalid: touch.occurred_at: Field required")
    assert letter.replayed_at is None
    shown = get_letter(ledger, letter.id).detail()
    assert shown["payload"] == {"text": json.dumps(BAD)}
    assert shown["dead_lettered_at"] == letter.dead_lettered_at.isoformat()
    assert shown["dead_lettered_at"].endswith("+00:00")
    with pytest.raises(NotFound, match="no dead letter 99"):
        get_letter(ledger, 99)

    still = r"the record still does not parse: touch\.occurred_at: Field required"
    with pytest.raises(Unprocessable, match=still):
        replay_letter(store, ledger, letter.id)  # as it was: still lacks its fields
    assert get_letter(ledger, letter.id).replayed_at is None
    with pytest.raises(NotFound):
        replay_letter(store, ledger, 99, json.dumps(FIXED).encode())

    before = store.max_position()
    tally = replay_letter(store, ledger, letter.id, f"  {json.dumps(FIXED)}\n".encode())
    assert (tally.received, tally.stored) == (1, 1)
    assert store.max_position() > before
    assert get_letter(ledger, letter.id).replayed_at is not None
    again = replay_letter(store, ledger, letter.id, json.dumps(FIXED).encode())
    assert (again.received, again.duplicates) == (1, 1)


def test_reconcile_accounts_for_every_line(
    ingested: tuple[EventStore, LedgerDB, Path], tmp_path: Path
) -> None:
    _, ledger, path = ingested
    done = reconcile(ledger, path)
    assert done.source == str(path)
    assert done.received == 25
    assert done.counts == {"stored": 22, "duplicate": 1, "dead_letter": 2}
    assert (done.accounted, done.unaccounted, done.unfolded) == (25, 0, 0)
    elsewhere = tmp_path / "never-ingested.jsonl"
    elsewhere.write_text((DATA / "spend.jsonl").read_text())
    nothing = reconcile(ledger, elsewhere)
    assert (nothing.received, nothing.counts, nothing.unaccounted) == (4, {}, 4)
