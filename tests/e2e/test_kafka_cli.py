"""The whole thin path through the CLI on a real Apache Kafka broker and PostgreSQL."""

from pathlib import Path

import pytest

from tests.e2e.cli import leadledger, report_json
from tests.expected import (
    FIRST_TOUCH_CREDITS,
    SKELETON_RECORDS,
    SKELETON_STORE_EVENTS,
    SKELETON_TALLY,
)

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_kafka_mode_report_equals_embedded_mode_report(
    kafka_bootstrap: str, topic_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    kafka_env = {
        "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADLEDGER_TOPIC_PREFIX": topic_prefix,
        "LEADLEDGER_DATABASE_URL": postgres_url,
    }
    published = leadledger("publish", str(DATA / "skeleton.jsonl"), env=kafka_env)
    assert f"published {SKELETON_RECORDS} events" in published.stdout

    ingested = leadledger(
        "run", "ingest", "--until-idle", "5", "--park-seconds", "0", env=kafka_env
    )
    assert SKELETON_TALLY in ingested.stdout
    reconciled = leadledger("reconcile", "--topic", env=kafka_env)
    assert f"received {SKELETON_RECORDS} = 22 stored + 1 duplicate + 1 dead-letter" in (
        reconciled.stdout
    )
    assert "unaccounted 0" in reconciled.stdout
    relayed = leadledger("run", "relay", "--until-idle", "2", env=kafka_env)
    assert f"relayed {SKELETON_STORE_EVENTS} events" in relayed.stdout
    projected = leadledger("run", "projection", "--until-idle", "4", env=kafka_env)
    assert f"projected {SKELETON_STORE_EVENTS} events" in projected.stdout

    kafka_report = report_json(env=kafka_env)
    assert kafka_report["credits"] == FIRST_TOUCH_CREDITS

    leadledger("--data-dir", str(tmp_path), "ingest", str(DATA / "skeleton.jsonl"))
    assert report_json("--data-dir", str(tmp_path)) == kafka_report

    # An auditor replays the topic under other definitions: the SQL credits of a replay from
    # Kafka on PostgreSQL equal those of a replay from the embedded store on SQLite.
    rules = tmp_path / "rules.toml"
    rules.write_text('[funnel]\nmql = "score"\n[sla]\nmql_response_hours = 2\n')
    replayed = leadledger("replay", "--definitions", str(rules), "--name", "audit",
                          "--from-kafka", env=kafka_env)  # fmt: skip
    assert f"{SKELETON_STORE_EVENTS} log positions replayed" in replayed.stdout
    leadledger("--data-dir", str(tmp_path), "replay", "--definitions", str(rules), "--name",
               "audit")  # fmt: skip
    kpis = [
        leadledger(*where, "report", "kpi", "--read-model", "audit", "--format", "json",
                   env=env).stdout
        for where, env in (((), kafka_env), (("--data-dir", str(tmp_path)), None))
    ]  # fmt: skip
    assert kpis[0] == kpis[1]
    assert '"deals_won"' in kpis[0]
