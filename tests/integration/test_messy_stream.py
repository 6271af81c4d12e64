"""A messy stream on the real broker settles into the same read models as a clean one.

The messy stream has every record of the clean one (hand-over facts included: acceptances,
rejections, attempts, confirmations, disqualifications, recycles), shuffled (out of
order, late) across two ingest consumers, a tenth
of them sent twice, plus bytes that are not Avro, Avro of an unknown schema, and a record
that fails validation; visitors are identified before or after their touches. Afterwards
reconcile accounts for every record on the topic, and the attribution, SLA and KPI reports
equal those built from the clean stream ingested in order.
"""

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadledger import demo
from leadledger.codec import MAGIC, registry
from leadledger.config import Database, Kafka
from leadledger.consumers.ingest import run_ingest
from leadledger.consumers.projection import run_projection
from leadledger.consumers.relay import run_relay
from leadledger.consumers.runloop import RunLoop
from leadledger.files import read_jsonl
from leadledger.ingest import Tally
from leadledger.kafka import topic_size
from leadledger.kpi_report import kpi_report
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file, project_from_store
from leadledger.projections.definitions import DEFAULTS
from leadledger.publisher import Publisher
from leadledger.readmodels import served
from leadledger.reports import attribution_report
from leadledger.sla_report import sla_report
from leadledger.store import open_store

pytestmark = pytest.mark.kafka
REPORTS = [("first_touch", "deal_won"), ("linear", "mql"), ("markov", "deal_won"),
           ("position_based", "lead")]  # fmt: skip


def visitors(count: int) -> list[dict[str, Any]]:
    """Anonymous touches of visitors who later become leads of the demo data."""
    records = []
    for i in range(1, count + 1):
        cookie, lead = f"cookie-{i}", f"lead-{i:05d}"
        records.append({"type": "touch", "event_id": f"anon-{i}", "anonymous_id": cookie,
                        "occurred_at": "2026-01-01T08:00:00+00:00", "source_system": "web",
                        "channel": "display"})  # fmt: skip
        records.append({"type": "identify", "event_id": f"id-{i}", "lead_id": lead,
                        "anonymous_id": cookie, "occurred_at": "2026-03-01T08:00:00+00:00",
                        "source_system": "web"})  # fmt: skip
    return records


def ingest_with_two_consumers(kafka: Kafka, database: Database) -> list[Tally]:
    tallies: list[Tally] = []

    def consume() -> None:
        store, ledger = open_store(database), LedgerDB(database.ledger_url())
        try:
            quiet = RunLoop(until_idle=12, install_signals=False)  # outlasts a rebalance
            tallies.append(run_ingest(kafka, store, ledger, quiet, max_wait=timedelta(seconds=3)))
        finally:
            ledger.close()
            store.close()

    workers = [threading.Thread(target=consume) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert len(tallies) == 2, "a consumer failed"
    return tallies


def reports(ledger: LedgerDB) -> list[dict[str, Any]]:
    """Attribution under several models, SLA verdicts clock by clock, and KPIs."""
    model = served(ledger)
    found = [attribution_report(ledger, model, method, DEFAULTS, kind=kind)
             for method, kind in REPORTS]  # fmt: skip
    found.append(sla_report(ledger, model, NOW, by="clock-row"))
    found.extend(kpi_report(ledger, model, by=by) for by in ("all", "channel"))
    return found


HANDOVER = {"assigned", "mql_accepted", "mql_rejected", "contact_attempted", "sql_confirmed",
            "disqualified", "recycled"}  # fmt: skip
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def test_messy_stream_reconciles_and_matches_the_clean_one(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    # Every hand-over fact is in: shuffled, an acceptance arrives after the lead moved on
    # to SQL, and is judged at the time it happened.
    clean = demo.generate(leads=80, seed=11) + visitors(20)
    assert {r["type"] for r in clean} >= HANDOVER
    clean_file = tmp_path / "clean.jsonl"
    clean_file.write_text("".join(json.dumps(r) + "\n" for r in clean), encoding="utf-8")

    embedded = Database.from_settings(data_dir=tmp_path / "clean")
    store, ledger = open_store(embedded), LedgerDB(embedded.ledger_url())
    ingest_file(clean_file, store, ledger)
    project_from_store(store, ledger)
    expected = reports(ledger)
    store.close()
    ledger.close()

    rng = random.Random(2026)
    messages = [r.message for r in read_jsonl(clean_file) if r.message is not None]
    messy = messages + rng.sample(messages, len(messages) // 10)
    rng.shuffle(messy)
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    with Publisher(kafka) as publisher:
        assert publisher.publish(messy).failed == []
        publisher.send_raw(b"\x00 not avro")
        publisher.send_raw(MAGIC + bytes.fromhex("0123456789abcdef") + b"\x02x")
        bad_currency = next(m for m in messages if m.type == "deal_won").to_record()
        publisher.send_raw(registry().encode("deal_won", bad_currency | {"currency": "eur"}))

    database = Database.from_settings(data_dir=tmp_path / "messy")
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    try:
        # Two consumers in one group share the topic's partitions: a visitor's touches and
        # the lead that identifies it may be handled by different consumers.
        tallies = ingest_with_two_consumers(kafka, database)
        # At least once: a record consumed but not committed before a rebalance is
        # delivered again to the other consumer, which finds it a duplicate.
        assert sum(t.received for t in tallies) >= len(messy) + 3
        assert all(t.reconciles for t in tallies)
        run_relay(kafka, store, ledger, RunLoop(until_idle=1, install_signals=False))
        run_projection(kafka, ledger, RunLoop(until_idle=3, install_signals=False))
        assert reports(ledger) == expected
        counts = ledger.intake_counts(f"{kafka.ingest_topic}/")
        assert sum(counts.values()) == topic_size(kafka, kafka.ingest_topic) == len(messy) + 3
        assert counts.get("parked", 0) == 0
        # Not Avro, an unknown schema, a bad currency, and the demo's deal for a lead
        # that was never created (parked, then dead once its wait ran out).
        assert counts["dead_letter"] == 4
    finally:
        ledger.close()
        store.close()
