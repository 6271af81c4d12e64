"""Read models on real databases and a real broker: the same read model whether replayed
from the embedded store or from Kafka, followed live or replayed, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leadledger import demo, readmodels
from leadledger.config import Database, Kafka
from leadledger.consumers.projection import replay_from_kafka, replay_total, run_projection
from leadledger.consumers.relay import run_relay
from leadledger.consumers.runloop import RunLoop
from leadledger.kpi_report import kpi_report
from leadledger.ledgerdb import CheckpointMoved, LedgerDB, lead_states
from leadledger.pipeline import ingest_file, project_from_store, replay_from_store
from leadledger.projections.definitions import Definitions
from leadledger.readmodels import Projector
from leadledger.reports import attribution_report
from leadledger.sla_report import sla_report
from leadledger.store import open_store

BERLIN = Definitions.model_validate({
    "funnel": {"mql": "stage"},
    "sla": {"mql_response_hours": 6, "calendar": {
        "hours": "business", "time_zone": "Europe/Berlin", "holidays_country": "DE",
        "holidays_subdivision": "BE"}},
})  # fmt: skip
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def rows(ledger: LedgerDB, name: str) -> list[list[tuple[Any, ...]]]:
    """Every row of read model ``name``, without the column naming it, in a fixed order."""
    found = []
    for table in (lead_states,):
        selected = ledger.select(table, table.c.model == name)
        found.append(sorted(tuple(r._mapping[c.name] for c in table.columns if c.name != "model")
                            for r in selected))  # fmt: skip
    return found


def reports(ledger: LedgerDB, name: str) -> str:
    model = readmodels.get(ledger, name)
    every = {
        "attribution": attribution_report(ledger, model, "linear", model.definitions),
        "kpi": kpi_report(ledger, model, by="team", period="quarter"),
        "sla": sla_report(ledger, model, NOW, by="rep"),
    }
    return json.dumps(every, sort_keys=True, default=str)


def build(database: Database, path: Path) -> str:
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        ingest_file(path, store, ledger)
        project_from_store(store, ledger)
        model = readmodels.create(ledger, "berlin", BERLIN)
        replay_from_store(store, ledger, model, page_size=50)
        ledger.set_read_model_status("berlin", "ready")
        followed = rows(ledger, "default")
        # A replay of the served definitions gives what following the log gave.
        again = readmodels.create(ledger, "again", readmodels.served(ledger).definitions)
        replay_from_store(store, ledger, again, page_size=333)
        assert rows(ledger, "again") == followed
        return reports(ledger, "default") + reports(ledger, "berlin")
    finally:
        ledger.close()
        store.close()


@pytest.mark.postgres
def test_read_models_are_the_same_on_sqlite_and_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    path = demo.write_jsonl(demo.generate(leads=400, seed=21), tmp_path / "demo.jsonl")
    on_sqlite = build(Database.from_settings(data_dir=tmp_path / "sqlite"), path)
    on_postgres = build(Database.from_settings(url=postgres_url), path)
    assert on_sqlite == on_postgres
    assert '"breached": ' in on_sqlite


@pytest.mark.kafka
def test_replay_from_kafka_equals_replay_from_the_store(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    database = Database.from_settings(data_dir=tmp_path / "embedded")
    path = demo.write_jsonl(demo.generate(leads=400, seed=22), tmp_path / "demo.jsonl")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    # The Kafka side keeps its read models in a ledger of its own.
    remote = LedgerDB(Database.from_settings(data_dir=tmp_path / "kafka").ledger_url())
    try:
        ingest_file(path, store, ledger)
        project_from_store(store, ledger)
        events = run_relay(kafka, store, ledger, RunLoop(until_idle=1, install_signals=False))
        assert events == store.max_position()
        # The projection consumer follows the served read model from the topic...
        projected = run_projection(kafka, remote, RunLoop(until_idle=3, install_signals=False))
        assert projected == events
        assert rows(remote, "default") == rows(ledger, "default")
        # ...and a replay from the topic builds what a replay from the store builds.
        from_store = readmodels.create(ledger, "berlin", BERLIN)
        replay_from_store(store, ledger, from_store)
        from_topic = readmodels.create(remote, "berlin", BERLIN)
        total, ends = replay_total(kafka, remote, from_topic)
        assert total == events
        assert replay_from_kafka(kafka, remote, from_topic, ends) == events
        assert rows(remote, "berlin") == rows(ledger, "berlin")
        assert len(rows(ledger, "berlin")[0]) > 200  # lead states
        # Run again, it finds nothing left to read.
        assert replay_total(kafka, remote, from_topic)[0] == 0
    finally:
        remote.close()
        ledger.close()
        store.close()


def test_two_writers_of_one_read_model_cannot_both_commit(
    database: Database, tmp_path: Path
) -> None:
    path = demo.write_jsonl(demo.generate(leads=60, seed=23), tmp_path / "demo.jsonl")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        ingest_file(path, store, ledger)
        model = readmodels.create(ledger, "contested", BERLIN)
        first, second = Projector(ledger, model), Projector(ledger, model)
        page = [store.wire(n) for n in next(store.notifications(0, 200))]
        first.apply(page, {"store": 200})
        before = rows(ledger, "contested")
        # The second writer read the checkpoint before the first moved it: its states are
        # stale, so its commit is refused and nothing of it is written.
        with pytest.raises(CheckpointMoved, match="'contested' was advanced by another"):
            second.apply(page, {"store": 200})
        assert rows(ledger, "contested") == before
        assert ledger.position(model.checkpoint, "store") == 200
        # A writer that starts after the first commit carries on from there.
        third = Projector(ledger, model)
        later = [store.wire(n) for n in next(store.notifications(200, 300))]
        third.apply(later, {"store": 500})
        assert ledger.position(model.checkpoint, "store") == 500
    finally:
        ledger.close()
        store.close()
