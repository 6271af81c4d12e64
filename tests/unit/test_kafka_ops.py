"""Kafka settings, the broker watch and the run loop's outage handling, without a broker.

The watch's probe is mostly replaced by a scripted one, so these run in milliseconds; a
real outage is exercised in tests/e2e/test_kafka_ops_cli.py.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from kafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumberError,
)

from leadledger.config import ConfigError, Kafka
from leadledger.consumers.runloop import RunLoop
from leadledger.kafka import BrokerWatch, reachable
from leadledger.logs import Repeats
from tests.conftest import closed_port


class Broker:
    """A probe whose answers the test sets: up or down."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.probes = 0

    def __call__(self, _: Kafka) -> bool:
        self.probes += 1
        return self.up


@pytest.fixture
def kafka() -> Kafka:
    return Kafka("127.0.0.1:1", "t")


def engine_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("leadledger")]


def test_settings_come_from_options_then_environment_then_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env in ("TIMEOUT", "PARTITIONS", "REPLICATION_FACTOR"):
        monkeypatch.delenv(f"LEADLEDGER_KAFKA_{env}", raising=False)
    defaults = Kafka.from_settings("b:9092")
    assert (defaults.timeout, defaults.partitions, defaults.replication_factor) == (5.0, 6, 1)
    monkeypatch.setenv("LEADLEDGER_KAFKA_TIMEOUT", "2.5")
    monkeypatch.setenv("LEADLEDGER_KAFKA_PARTITIONS", "12")
    monkeypatch.setenv("LEADLEDGER_KAFKA_REPLICATION_FACTOR", "3")
    from_env = Kafka.from_settings("b:9092")
    assert (from_env.timeout, from_env.partitions, from_env.replication_factor) == (2.5, 12, 3)
    chosen = Kafka.from_settings("b:9092", timeout=1, partitions=2, replication_factor=2)
    assert (chosen.timeout, chosen.partitions, chosen.replication_factor) == (1, 2, 2)


def test_a_bad_setting_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADLEDGER_KAFKA_PARTITIONS", "six")
    with pytest.raises(ConfigError, match="LEADLEDGER_KAFKA_PARTITIONS"):
        Kafka.from_settings("b:9092")
    with pytest.raises(ConfigError, match="replication factor must be at least 1"):
        Kafka("b:9092", replication_factor=0)
    with pytest.raises(ConfigError, match="timeout must be above 0"):
        Kafka("b:9092", timeout=0)


def test_the_probe_finds_a_listening_server_among_the_bootstrap_servers() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert reachable(Kafka(f"127.0.0.1:{closed_port()}, 127.0.0.1:{port}"))
    assert not reachable(Kafka(f"127.0.0.1:{port}"))


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    kafka: Kafka, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker()
    watch = BrokerWatch(kafka, every=0, probe=broker)
    assert watch.check()
    broker.up = False
    assert [watch.check() for _ in range(5)] == [False] * 5
    broker.up = True
    assert watch.check()
    assert watch.check()
    assert engine_lines(caplog) == [
        "waiting for Kafka at 127.0.0.1:1: no broker answers; carrying on when one does",
        "Kafka at 127.0.0.1:1 is back after 0 s",
    ]


def test_the_watch_probes_a_healthy_broker_at_most_once_per_interval(kafka: Kafka) -> None:
    broker = Broker()
    watch = BrokerWatch(kafka, every=3600, probe=broker)
    for _ in range(100):
        watch.check()
    assert broker.probes == 1


def test_a_kafka_call_failed_by_an_outage_runs_again_when_the_broker_is_back(
    kafka: Kafka, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(up=False)
    calls = []

    def commit() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise KafkaTimeoutError("no broker")
        return "committed"

    def go_on() -> bool:
        broker.up = True  # the broker returns while the loop waits
        return True

    watch = BrokerWatch(kafka, every=0, probe=broker)
    assert watch.retry(commit, go_on) == "committed"
    assert len(calls) == 2
    assert len(engine_lines(caplog)) == 2


def test_a_kafka_call_failing_while_the_broker_answers_is_tried_three_times_then_raised(
    kafka: Kafka,
) -> None:
    calls = []

    def commit() -> None:
        calls.append(1)
        raise KafkaTimeoutError("the broker answers, but not this request")

    watch = BrokerWatch(kafka, every=0, probe=Broker(up=True))
    with pytest.raises(KafkaTimeoutError):
        watch.retry(commit)
    assert len(calls) == 3


def test_waiting_for_kafka_is_not_a_quiet_spell(kafka: Kafka) -> None:
    down_since = time.monotonic()

    def back_later(_: Kafka) -> bool:
        return time.monotonic() - down_since > 2.0  # down for longer than the quiet spell

    watch = BrokerWatch(kafka, every=0.01, probe=back_later)
    loop = RunLoop(until_idle=1.0, install_signals=False, watch=watch)
    assert loop.go_on()  # back, and the outage did not use up the quiet spell
    time.sleep(1.2)
    assert not loop.go_on()  # a real quiet spell still ends the run


def test_a_kafka_call_waiting_out_an_outage_is_not_a_quiet_spell_either(kafka: Kafka) -> None:
    down_since = time.monotonic()
    watch = BrokerWatch(kafka, every=0.01,
                        probe=lambda _: time.monotonic() - down_since > 2.0)  # fmt: skip
    loop = RunLoop(until_idle=1.0, install_signals=False, watch=watch)
    calls = []

    def commit() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise KafkaTimeoutError("no broker")
        return "committed"

    assert loop.through_outages(commit) == "committed"
    assert loop.go_on()


def test_a_stop_signal_ends_the_wait_for_kafka(kafka: Kafka) -> None:
    watch = BrokerWatch(kafka, every=0.01, probe=Broker(up=False))
    loop = RunLoop(install_signals=False, watch=watch)
    loop.stopping = True
    assert not loop.go_on()


def test_the_loop_touches_its_heartbeat_while_kafka_answers(kafka: Kafka, tmp_path: Path) -> None:
    beat = tmp_path / "run" / "alive"
    broker = Broker()
    loop = RunLoop(install_signals=False, watch=BrokerWatch(kafka, probe=broker), heartbeat=beat)
    assert loop.go_on()
    assert beat.exists()


def test_a_repeated_library_line_shows_once_and_engine_lines_always() -> None:
    repeats = Repeats(seconds=3600)

    def record(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, ("x",), None)

    library = [repeats.filter(record("kafka.cluster", "No node available %s")) for _ in range(3)]
    other = repeats.filter(record("kafka.cluster", "Metadata refresh failed %s"))
    engine = [repeats.filter(record("leadledger.kafka", "waiting %s")) for _ in range(2)]
    assert library == [True, False, False]
    assert other
    assert engine == [True, True]


@pytest.mark.parametrize(
    "error",
    [NotLeaderForPartitionError("a leader moved"), OutOfOrderSequenceNumberError("reset")],
)
def test_a_transient_kafka_error_while_the_broker_answers_is_tried_again(
    kafka: Kafka, error: Exception
) -> None:
    """A broker that just restarted moves leaders and may make an idempotent producer
    reset; the next send goes through, so the page is sent again (the relay's case)."""
    calls = []

    def send() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return "acknowledged"

    watch = BrokerWatch(kafka, every=0, probe=Broker(up=True))
    assert watch.retry(send) == "acknowledged"
    assert len(calls) == 2


def test_a_kafka_error_that_no_retry_mends_is_raised_at_once(kafka: Kafka) -> None:
    calls = []

    def send() -> None:
        calls.append(1)
        raise MessageSizeTooLargeError("a record over the broker's limit")

    watch = BrokerWatch(kafka, every=0, probe=Broker(up=True))
    with pytest.raises(MessageSizeTooLargeError):
        watch.retry(send)
    assert len(calls) == 1
