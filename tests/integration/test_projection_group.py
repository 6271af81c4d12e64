"""Projection processes in one consumer group share the domain-events topic's partitions.

On the real broker and PostgreSQL: a seeded data set goes into the event store in three
chunks, each relayed to the topic. Three projection databases follow the topic, one
with a single projection process, one with two (the second joins mid-stream, the first is
stopped later) and one with three (two join mid-stream, one is stopped later): each
change of membership is a rebalance while records wait unread. All three equal one clean
build from the store: lead-state rows and reports of the served read model and of a
second live read model. A read model created, or replayed and promoted, while a
projection process runs is followed without a restart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest

from leadledger import demo, readmodels
from leadledger import kafka as kafka_io
from leadledger.config import Database, Kafka
from leadledger.consumers.relay import checkpoint_of, run_relay
from leadledger.consumers.runloop import RunLoop
from leadledger.files import read_jsonl
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_records, project_from_store, replay_from_store
from leadledger.readmodels import FACTS, STORE_STREAM
from leadledger.store import open_store
from tests.e2e.cli import LEADLEDGER, leadledger
from tests.integration.test_replay import BERLIN, reports, rows

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
WAIT = 180.0  # seconds a group may take to catch up with a chunk on two shared cores


class Group:
    """Projection processes of one consumer group, all writing to one database."""

    def __init__(self, env: dict[str, str], group: str, logs: Path) -> None:
        self.env, self.group, self.logs = env, group, logs
        self.processes: dict[str, tuple[subprocess.Popen[str], IO[str]]] = {}

    def start(self, name: str) -> None:
        log = (self.logs / f"{self.group}-{name}.log").open("w")
        process = subprocess.Popen(
            [LEADLEDGER, "-v", "run", "projection", "--group", self.group, "--until-idle", "600"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.processes[name] = (process, log)

    def stop(self, name: str) -> str:
        """SIGTERM: the process finishes its batch, leaves the group, says what it did."""
        process, log = self.processes[name]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, self.output(name)
        log.close()
        return self.output(name)

    def stop_all(self) -> dict[str, str]:
        return {
            name: self.stop(name) for name, (p, _) in self.processes.items() if p.poll() is None
        }

    def settled(self, partitions: int) -> bool:
        """Whether the group's rebalance is over: every live process has been given
        partitions, and their latest assignments split the topic between them."""
        latest: list[str] = []
        for name, (process, _) in self.processes.items():
            if process.poll() is not None:
                continue
            said = re.findall(r"partitions assigned: (.+)", self.output(name))
            if not said or said[-1].strip() == "none":
                return False
            latest.extend(said[-1].strip().split(", "))
        return len(latest) == len(set(latest)) == partitions

    def output(self, name: str) -> str:
        return (self.logs / f"{self.group}-{name}.log").read_text()

    def kill_all(self) -> None:
        for process, log in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            log.close()


def last_offsets(kafka: Kafka) -> dict[str, int]:
    """The last offset of each partition of the domain-events topic that holds records."""
    topic = kafka.domain_topic
    held = kafka_io.partition_offsets(kafka, topic)
    return {f"{topic}:{p}": end - 1 for p, (_, end) in held.items() if end > 0}


def wait_for(what: str, done: Callable[[], bool], groups: list[Group]) -> None:
    deadline = time.monotonic() + WAIT
    while not done():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {g.group} {n}:\n{g.output(n)[-3000:]}"
                             for g in groups for n in g.processes)  # fmt: skip
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.3)


def holds(ledger: LedgerDB, checkpoints: list[str], ends: dict[str, int]) -> bool:
    """Whether every checkpoint in ``checkpoints`` holds every record up to ``ends``."""
    for name in checkpoints:
        done = ledger.positions(name)
        if any(done.get(key, -1) < last for key, last in ends.items()):
            return False
    return True


def settled(ledger: LedgerDB, checkpoints: list[str], relayed: int) -> bool:
    return all(ledger.position(name, STORE_STREAM) == relayed for name in checkpoints)


def projected(output: str) -> int:
    found = re.search(r"projected (\d+) events", output)
    assert found, output
    return int(found.group(1))


@pytest.fixture
def databases(postgres_admin_url: str) -> Iterator[Callable[[], str]]:
    """Fresh PostgreSQL databases, made on demand and dropped afterwards."""
    made: list[str] = []
    base, _, _ = postgres_admin_url.rpartition("/")

    def make() -> str:
        name = f"ll_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{base}/{name}"

    yield make
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def env_for(url: str, kafka: Kafka) -> dict[str, str]:
    return {**os.environ, "LEADLEDGER_DATABASE_URL": url,
            "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "LEADLEDGER_TOPIC_PREFIX": kafka.topic_prefix}  # fmt: skip


def chunks(tmp_path: Path, leads: int, seed: int, parts: int) -> list[list[Any]]:
    """The data set in ``parts`` chunks by time: a lead's story goes on in later chunks, so
    a lead folded by one process gets events while another owns its partition."""
    data = sorted(demo.generate(leads=leads, seed=seed), key=lambda r: r["occurred_at"])
    records = list(read_jsonl(demo.write_jsonl(data, tmp_path / "data.jsonl")))
    size = -(-len(records) // parts)
    return [records[i : i + size] for i in range(0, len(records), size)]


def test_one_two_and_three_processes_with_rebalances_build_equal_read_models(
    kafka_bootstrap: str,
    topic_prefix: str,
    databases: Callable[[], str],
    tmp_path: Path,
) -> None:
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    source = Database.from_settings(url=databases())
    store, ledger = open_store(source), LedgerDB(source.ledger_url())
    # Three projection databases; each serves "default" and follows "berlin" too.
    urls = {n: databases() for n in (1, 2, 3)}
    targets = {n: LedgerDB(Database.from_settings(url=u).ledger_url()) for n, u in urls.items()}
    for target in targets.values():
        readmodels.served(target)
        readmodels.create(target, "berlin", BERLIN, status="ready")
    groups = {n: Group(env_for(u, kafka), f"{topic_prefix}-{n}", tmp_path) for n, u in urls.items()}
    sinks = [FACTS, "model:default", "model:berlin"]
    joins: dict[int, dict[int, list[str]]] = {0: {1: ["a"], 2: ["a"], 3: ["a"]},
                                              1: {2: ["b"], 3: ["b", "c"]}}  # fmt: skip
    # Stopping "b" gives its partitions back to "a", which folded their leads in the first
    # chunk and holds them in memory: it must read what "b" folded, not its stale cache.
    leaves: dict[int, dict[int, list[str]]] = {2: {2: ["b"], 3: ["b"]}}
    outputs: dict[int, dict[str, str]] = {n: {} for n in groups}
    try:
        for stage, part in enumerate(chunks(tmp_path, leads=450, seed=41, parts=3)):
            # Membership changes between chunks: each chunk is folded by the group as it
            # stands after the rebalance, a part of the topic by each process.
            for n, names in leaves.get(stage, {}).items():
                for name in names:
                    outputs[n][name] = groups[n].stop(name)
            for n, names in joins.get(stage, {}).items():
                for name in names:
                    groups[n].start(name)
            for n, group in groups.items():
                wait_for(f"the rebalance of {n}", partial(group.settled, kafka.partitions),
                         list(groups.values()))  # fmt: skip
            ingest_records(part, store, ledger)
            run_relay(kafka, store, ledger, RunLoop(until_idle=1, install_signals=False))
            relayed = ledger.position(*checkpoint_of(kafka)) or 0
            assert relayed == store.max_position()
            for target in targets.values():  # what the relay has acknowledged, as if shared
                target.set_position(*checkpoint_of(kafka), relayed)
            ends = last_offsets(kafka)
            assert len(ends) == kafka.partitions  # the leads spread over every partition
            for n, target in targets.items():
                wait_for(f"{n} process(es) to catch up with chunk {stage + 1}",
                         partial(holds, target, sinks, ends), list(groups.values()))  # fmt: skip
        # A group left with one process holds the whole topic, and moves the store position
        # to the relay's checkpoint; two processes holding parts of it never do.
        for n in (1, 2):
            wait_for(f"the store position of {n}", partial(settled, targets[n], sinks, relayed),
                     list(groups.values()))  # fmt: skip
        assert all((targets[3].position(s, STORE_STREAM) or 0) < relayed for s in sinks)
        for n, group in groups.items():
            outputs[n].update(group.stop_all())

        # Every process of a group read records, and the later ones got partitions.
        for n, said in outputs.items():
            assert len(said) == n
            for name, output in said.items():
                assert projected(output) > 0, f"{n}/{name}: {output}"
                assert "partitions assigned" in output
        # One clean build from the store: the reference.
        project_from_store(store, ledger)
        berlin = readmodels.create(ledger, "berlin", BERLIN)
        replay_from_store(store, ledger, berlin)
        ledger.set_read_model_status("berlin", "ready")
        assert len(rows(ledger, "default")[0]) >= 300
        for name in ("default", "berlin"):
            expected_rows, expected_reports = rows(ledger, name), reports(ledger, name)
            for n, target in targets.items():
                assert rows(target, name) == expected_rows, f"{name} with {n} process(es)"
                assert reports(target, name) == expected_reports, f"{name} with {n}"
    finally:
        for group in groups.values():
            group.kill_all()
        for target in targets.values():
            target.close()
        ledger.close()
        store.close()


def test_a_read_model_made_while_the_projection_runs_is_followed_without_a_restart(
    kafka_bootstrap: str,
    topic_prefix: str,
    databases: Callable[[], str],
    tmp_path: Path,
) -> None:
    kafka = Kafka(kafka_bootstrap, topic_prefix)
    url = databases()
    database = Database.from_settings(url=url)
    env = env_for(url, kafka)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    group = Group(env, f"{topic_prefix}-p", tmp_path)
    first, second = chunks(tmp_path, leads=300, seed=43, parts=2)
    definitions = tmp_path / "five-hours.toml"
    definitions.write_text('[funnel]\nmql = "stage"\n\n[sla]\nmql_response_hours = 5\n')
    try:
        ingest_records(first, store, ledger)
        run_relay(kafka, store, ledger, RunLoop(until_idle=1, install_signals=False))
        group.start("only")
        ends = last_offsets(kafka)
        wait_for("the served read model", lambda: holds(ledger, ["model:default"], ends), [group])
        # Registered and made ready while the process runs: it starts from offset 0.
        readmodels.create(ledger, "late", BERLIN, status="ready")
        # Replayed from the topic by another command, then promoted: followed from where
        # the replay left it.
        said = leadledger("replay", "--from-kafka", "--name", "promoted",
                          "--definitions", str(definitions), env=env).stdout  # fmt: skip
        assert "ready" in said
        leadledger("promote", "promoted", env=env)
        wait_for("the new read model", lambda: holds(ledger, ["model:late"], ends), [group])
        # Later events reach all of them.
        ingest_records(second, store, ledger)
        run_relay(kafka, store, ledger, RunLoop(until_idle=1, install_signals=False))
        ends = last_offsets(kafka)
        names = ["model:default", "model:late", "model:promoted"]
        wait_for("every read model", lambda: holds(ledger, names, ends), [group])
        output = group.stop("only")
        assert "following read model late" in output
        assert "following read model promoted" in output
        assert readmodels.served(ledger).name == "promoted"

        # Each equals a clean build of its definitions from the store.
        promoted = readmodels.get(ledger, "promoted")
        for name, model in (("late", BERLIN), ("promoted", promoted.definitions)):
            clean = readmodels.create(ledger, f"{name}-clean", model)
            replay_from_store(store, ledger, clean)
            assert rows(ledger, name) == rows(ledger, f"{name}-clean"), name
            assert reports(ledger, name) == reports(ledger, f"{name}-clean").replace(
                f"{name}-clean", name
            ), name
        assert len(rows(ledger, "late")[0]) >= 200
    finally:
        group.kill_all()
        ledger.close()
        store.close()
