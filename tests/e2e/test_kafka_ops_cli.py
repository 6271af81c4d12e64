"""What an operator sees when Kafka is missing or goes away, through the installed command.

A missing broker: one line, within the timeout, no kafka-python lines. A broker that
goes away mid-run and comes back: one line each way, and no record lost. The second test
runs its own broker on a port of its own, since stopping the shared one would break
other tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from tests.conftest import OwnBroker, closed_port
from tests.e2e.cli import LEADLEDGER, eventually, leadledger
from tests.expected import SKELETON_RECORDS

DATA = Path(__file__).resolve().parent.parent / "data"
BOUND = 10.0  # seconds within which a missing broker must be reported


def library_lines(stderr: str) -> list[str]:
    """Lines logged by kafka-python (the log format puts the logger name second)."""
    return [line for line in stderr.splitlines() if " kafka." in line]


@pytest.mark.parametrize(
    "command",
    [["run", "ingest", "--until-idle", "1"], ["publish", str(DATA / "skeleton.jsonl")]],
    ids=["run-ingest", "publish"],
)
def test_a_missing_broker_is_reported_in_one_line_within_the_timeout(
    command: list[str], tmp_path: Path
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = leadledger(
        "--data-dir", str(tmp_path), *command, "--bootstrap-servers", address,
        env={"LEADLEDGER_KAFKA_TIMEOUT": ""}, check=False, timeout=60,
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"error: no Kafka broker answered at {address} within 5 s; start one "
        "(scripts/kafka-local.sh start, or docker compose up) or set "
        "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS"
    ]
    assert took < BOUND, f"reported after {took:.1f} s"


def test_the_kafka_timeout_is_configurable(tmp_path: Path) -> None:
    address = f"127.0.0.1:{closed_port()}"
    result = leadledger(
        "--data-dir", str(tmp_path), "run", "ingest", "--bootstrap-servers", address,
        "--kafka-timeout", "1", check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"at {address} within 1 s;" in result.stderr
    assert not library_lines(result.stderr)


# --- a broker that goes away and comes back ------------------------------------------


def committed(broker: OwnBroker, topic: str, group: str) -> int:
    """Records of ``topic`` the ingest group has committed (0 while the group's
    coordinator is not there yet)."""
    admin = KafkaAdminClient(bootstrap_servers=broker.address, bootstrap_timeout_ms=5000)
    try:
        offsets = admin.list_group_offsets({group: None})[group]
    except KafkaError:  # no coordinator yet: the group has not committed
        return 0
    finally:
        admin.close()
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic == topic)


@pytest.mark.kafka
def test_a_broker_that_goes_away_is_waited_for_in_one_line_and_its_return_logged_once(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    prefix = f"outage-{uuid.uuid4().hex[:8]}"
    env = {"LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": own_broker.address,
           "LEADLEDGER_TOPIC_PREFIX": prefix}  # fmt: skip
    skeleton = str(DATA / "skeleton.jsonl")
    leadledger("publish", skeleton, env=env)
    stderr = tmp_path / "stderr"
    with stderr.open("w") as errors:
        ingest = subprocess.Popen(
            [LEADLEDGER, "--data-dir", str(tmp_path), "run", "ingest", "--park-seconds", "0"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip
    try:
        topic, group = f"{prefix}.ingest", f"{prefix}-ingest"
        eventually("the first batch committed",
                   lambda: committed(own_broker, topic, group) == SKELETON_RECORDS, 60)  # fmt: skip
        own_broker.stop()
        eventually("the engine says it waits",
                   lambda: "waiting for Kafka" in stderr.read_text(), 30)  # fmt: skip
        own_broker.start()
        leadledger("publish", skeleton, env=env)  # the same records again: duplicates
        twice = 2 * SKELETON_RECORDS
        eventually("the second batch committed",
                   lambda: committed(own_broker, topic, group) == twice, 60)  # fmt: skip
        ingest.send_signal(signal.SIGTERM)
        stdout, _ = ingest.communicate(timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; run ingest's stderr:\n{stderr.read_text()}") from None
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    assert ingest.returncode == 0
    assert f"received {2 * SKELETON_RECORDS} = " in stdout
    assert "reconciles" in stdout
    logged = stderr.read_text()
    assert not library_lines(logged), logged
    messages = [line.split(" ", 3)[3] for line in logged.splitlines()]  # no date, time, logger
    assert len(messages) == 2, logged
    assert messages[0] == (
        f"waiting for Kafka at {own_broker.address}: no broker answers; carrying on when one does"
    )
    assert messages[1].startswith(f"Kafka at {own_broker.address} is back after ")


# --- topic settings --------------------------------------------------------------------


@pytest.mark.kafka
def test_topics_are_created_with_the_partitions_asked_for(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    leadledger(
        "publish", str(DATA / "skeleton.jsonl"), "--bootstrap-servers", kafka_bootstrap,
        "--topic-prefix", topic_prefix, env={"LEADLEDGER_KAFKA_PARTITIONS": "2"},
    )  # fmt: skip
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        topics = admin.describe_topics([f"{topic_prefix}.{name}" for name in
                                        ("ingest", "domain-events", "dead-letters")])  # fmt: skip
    finally:
        admin.close()
    assert [len(topic["partitions"]) for topic in topics] == [2, 2, 2]


@pytest.mark.kafka
def test_a_replication_factor_the_cluster_cannot_hold_is_refused_by_name(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    result = leadledger(
        "publish", str(DATA / "skeleton.jsonl"), "--bootstrap-servers", kafka_bootstrap,
        "--topic-prefix", topic_prefix, "--replication-factor", "3", check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: replication factor 3 needs that many brokers; the cluster at "
        f"{kafka_bootstrap} has fewer (set --replication-factor or "
        "LEADLEDGER_KAFKA_REPLICATION_FACTOR)"
    ]
