"""One truth: every delivery path into one database gives the read models of one clean build.

Embedded ingest, the Kafka ingest consumer, a relay killed mid-stream and rewound (so it
re-sends), the Kafka projection consumer, a replay from the store followed by the Kafka
projection again, and a dead-letter replay all feed the same PostgreSQL database, in that
order. Afterwards the served read model (lead states, credits, SLA verdicts, KPIs) equals
a read model built once, cleanly, from the same store; and the facts hold each
idempotency key once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadledger import demo, readmodels
from leadledger.config import Database, Kafka
from leadledger.consumers.ingest import run_ingest
from leadledger.consumers.projection import run_projection
from leadledger.consumers.relay import checkpoint_of
from leadledger.consumers.runloop import RunLoop
from leadledger.files import read_jsonl
from leadledger.kpi_report import kpi_report
from leadledger.ledgerdb import TABLES, LedgerDB, dead_letters, lead_states
from leadledger.pipeline import ingest_records, project_from_store, replay_from_store
from leadledger.publisher import Publisher
from leadledger.reports import attribution_report, credits_for, ledger_rows
from leadledger.sla_report import sla_report
from leadledger.store import open_store
from tests.e2e.cli import LEADLEDGER, leadledger
from tests.integration.test_messy_stream import visitors

pytestmark = [pytest.mark.kafka]
NOW = datetime(2026, 9, 1, tzinfo=UTC)
MODELS = ("first_touch", "linear", "time_decay", "markov", "shapley")


def states(ledger: LedgerDB, name: str) -> dict[str, str]:
    return {r.lead_id: r.state for r in ledger.select(lead_states, lead_states.c.model == name)}


def read_models(ledger: LedgerDB, name: str) -> str:
    """Every read model of ``name`` a user can see, as one JSON text."""
    model = readmodels.get(ledger, name)
    shown: dict[str, Any] = {
        "kpi": [kpi_report(ledger, model, by=by, basis=basis)
                for by in ("all", "channel") for basis in ("cohort", "activity")],
        "sla": sla_report(ledger, model, NOW, by="clock-row"),
    }  # fmt: skip
    for method in MODELS:
        shown[method] = attribution_report(ledger, model, method, model.definitions)
    for key in ("kpi", "sla", *MODELS):  # the read model's own name is not part of it
        for part in shown[key] if isinstance(shown[key], list) else [shown[key]]:
            part.pop("read_model", None)
    credits, _ = credits_for(ledger, model, "linear", model.definitions)
    shown["credits"] = ledger_rows(credits, "linear", model.definitions)
    return json.dumps(shown, sort_keys=True, default=str)


def relay_with_kills(
    env: dict[str, str], kafka: Kafka, ledger: LedgerDB, total: int, kills: int = 3
) -> int:
    """Run the relay and SIGKILL it as soon as it has moved its checkpoint, a few times;
    return the kills that landed mid-stream."""
    landed = 0
    for _ in range(3 * kills):
        start = ledger.position(*checkpoint_of(kafka)) or 0
        process = subprocess.Popen(
            [LEADLEDGER, "run", "relay", "--page-size", "3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while (
            ledger.position(*checkpoint_of(kafka)) or 0
        ) <= start and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if 0 < (ledger.position(*checkpoint_of(kafka)) or 0) < total:
            landed += 1
        if landed >= kills:
            break
    return landed


@pytest.mark.postgres
def test_every_delivery_path_gives_the_read_models_of_one_clean_build(
    kafka_bootstrap: str, topic_prefix: str, database: Database, tmp_path: Path
) -> None:
    """On PostgreSQL (a Kafka deployment's database) and on SQLite (a data directory that
    is also used in Kafka mode): the same paths, the same result."""
    records = demo.generate(leads=150, seed=31) + visitors(30)
    path = demo.write_jsonl(records, tmp_path / "all.jsonl")
    messages = list(read_jsonl(path))
    first, second, third = messages[:700], messages[700:1300], messages[1300:]
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    where = ({"LEADLEDGER_DATABASE_URL": database.url} if database.url != "sqlite"
             else {"LEADLEDGER_DATA_DIR": str(database.data_dir)})  # fmt: skip
    env = {**os.environ, **where, "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "LEADLEDGER_TOPIC_PREFIX": topic_prefix}  # fmt: skip
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    quiet = RunLoop(until_idle=3, install_signals=False)
    try:
        # 1. Embedded ingest into the deployment's database: facts and the served read
        # model move their position in the store's log.
        ingest_records(first, store, ledger)
        project_from_store(store, ledger)
        # 2. The Kafka path: publish, ingest, and a relay killed mid-stream, then rewound
        # to the start (as if it crashed before any checkpoint): everything is re-sent.
        with Publisher(kafka) as publisher:
            sent = [r.message for r in second if r.message is not None]
            assert publisher.publish(sent).failed == []
            bad = {"type": "touch", "event_id": "fix-me", "lead_id": "lead-00001",
                   "occurred_at": "2026-01-02T10:00:00Z", "source_system": "crm",
                   "channel": "webinar", "cost": "25"}  # fmt: skip
            publisher.send_raw(b'{"not": "avro"}')
        run_ingest(kafka, store, ledger, RunLoop(until_idle=4, install_signals=False))
        assert relay_with_kills(env, kafka, ledger, store.max_position()) == 3
        leadledger("run", "relay", "--until-idle", "2", env=env)
        ledger.set_position(*checkpoint_of(kafka), 0)
        leadledger("run", "relay", "--until-idle", "2", env=env)
        # 3. The Kafka projection: it reads every record from offset 0, including the
        # re-sent ones and the ones the embedded path folded already.
        run_projection(kafka, ledger, quiet)
        # Caught up with the topic, the read model's position in the store's log is the
        # relay's: one position, whichever path fed it.
        model = readmodels.served(ledger).checkpoint
        assert ledger.position(model, "store") == ledger.position(*checkpoint_of(kafka))
        assert ledger.position(model, "store") == store.max_position()
        # 4. Embedded ingest again, a replay of the served model from the store, then
        # the Kafka projection again.
        ingest_records(third, store, ledger)
        served = readmodels.served(ledger)
        replay_from_store(store, ledger, served)
        leadledger("run", "relay", "--until-idle", "2", env=env)
        run_projection(kafka, ledger, quiet)
        # 5. A dead letter, corrected and replayed through the CLI on the same database.
        (tmp_path / "bad.json").write_text(json.dumps(bad | {"cost": "-25"}))
        ingest_records(list(read_jsonl(tmp_path / "bad.json")), store, ledger)
        [letter] = [d for d in ledger.select(dead_letters) if d.origin.endswith("bad.json:1")]
        (tmp_path / "fixed.json").write_text(json.dumps(bad))
        leadledger("deadletters", "replay", str(letter.id), "--with", str(tmp_path / "fixed.json"),
                   env=env)  # fmt: skip
        leadledger("run", "relay", "--until-idle", "2", env=env)
        run_projection(kafka, ledger, quiet)

        # One clean build of the same store, under the same definitions.
        clean = readmodels.create(ledger, "clean", served.definitions)
        replay_from_store(store, ledger, clean)
        ledger.set_read_model_status("clean", "ready")
        assert states(ledger, served.name) == states(ledger, "clean")
        assert read_models(ledger, served.name) == read_models(ledger, "clean")
        # Facts: each idempotency key once, every stored fact present.
        with ledger.engine.connect() as conn:
            for table in TABLES.values():
                keys = conn.execute(sa.select(table.c.source_system, table.c.event_id)).all()
                assert len(keys) == len(set(keys)), f"{table.name} holds a key twice"
        touches = {(r.source_system, r.event_id) for r in ledger.select(TABLES["touches"])}
        given = {(r["source_system"], r["event_id"]) for r in records if r["type"] == "touch"}
        assert touches == given | {("crm", "fix-me")}  # the corrected dead letter among them
    finally:
        ledger.close()
        store.close()


def test_relay_resend_of_a_win_counts_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """The relay re-sends a deal_won after a crash: the read model holds one conversion."""
    database = Database.from_settings(data_dir=tmp_path / "data")
    path = demo.write_jsonl(demo.generate(leads=40, seed=32), tmp_path / "in.jsonl")
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    remote = LedgerDB(Database.from_settings(data_dir=tmp_path / "remote").ledger_url())
    env = {**os.environ, "LEADLEDGER_DATA_DIR": str(tmp_path / "data"),
           "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "LEADLEDGER_TOPIC_PREFIX": topic_prefix}  # fmt: skip
    try:
        ingest_records(read_jsonl(path), store, ledger)
        for _ in range(2):  # the second run re-sends everything
            ledger.set_position(*checkpoint_of(kafka), 0)
            leadledger("run", "relay", "--until-idle", "2", env=env)
        run_projection(kafka, remote, RunLoop(until_idle=3, install_signals=False))
        conversions = [f"{c['kind']}:{c['event_id']}" for s in states(remote, "default").values()
                       for c in json.loads(s)["conversions"]]  # fmt: skip
        assert any(c.startswith("deal_won:") for c in conversions)
        assert len(conversions) == len(set(conversions))
    finally:
        remote.close()
        ledger.close()
        store.close()
