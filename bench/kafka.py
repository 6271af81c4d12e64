"""Kafka mode end to end, as a deployment runs it: ``leadledger publish FILE``, then
``run ingest`` (1 or 2 processes), ``run relay`` and ``run projection`` (1 or 2 processes)
on a fresh PostgreSQL database and fresh topics, until every record is ingested, relayed
and projected; beside raw kafka-python producing and consuming the same lines.

Freshness: with one process of each running and caught up, records are published at a
steady rate (1,000 events/s by default) and each touch is timed from its publish to its
row in the projection's facts (what attribution reads), polled every ``POLL`` seconds.

The servers are the tests' own: ``KAFKA_BOOTSTRAP_SERVERS`` or scripts/kafka-local.sh,
``LEADLEDGER_TEST_POSTGRES_URL`` or scripts/postgres-local.sh.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import psycopg
import sqlalchemy as sa
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from leadledger import kafka as kafka_io
from leadledger.config import Kafka
from leadledger.files import read_records
from leadledger.ledgerdb import checkpoints, intake, touches
from leadledger.publisher import Publisher

ROOT = Path(__file__).resolve().parent.parent
LEADLEDGER = str(Path(sys.executable).parent / "leadledger")
POLL = 0.05  # seconds between freshness polls: each latency is late by up to this much
CATCH_UP = 1800.0  # seconds a deployment may take to take in the whole file


@dataclass(frozen=True)
class Servers:
    bootstrap: str
    postgres_admin: str


def servers() -> Servers:
    """The broker and PostgreSQL server the tests use, started if need be."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or _last_line("kafka-local.sh", "start")
    postgres = os.environ.get("LEADLEDGER_TEST_POSTGRES_URL") or _last_line(
        "postgres-local.sh", "ensure"
    )
    return Servers(bootstrap, postgres)


def _last_line(script: str, *args: str) -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / script), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"bench: {script} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


@contextmanager
def database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"ll_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Deployment:
    """The engine's processes on one database and one topic prefix."""

    def __init__(self, url: str, bootstrap: str, logs: Path) -> None:
        self.kafka = Kafka(bootstrap, f"bench-{uuid.uuid4().hex[:8]}")
        self.env = {
            **os.environ,
            "LEADLEDGER_DATABASE_URL": url,
            "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LEADLEDGER_TOPIC_PREFIX": self.kafka.topic_prefix,
        }
        self.engine = sa.create_engine(url)
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, component: str, count: int = 1) -> None:
        for number in range(count):
            log = (self.logs / f"{self.kafka.topic_prefix}-{component}-{number}.log").open("wb")
            process = subprocess.Popen(
                [LEADLEDGER, "run", component], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
            self.processes.append((component, process, log))

    def wait_until_joined(self, scale: int, within: float = 300) -> None:
        """Until ``scale`` ingest and ``scale`` projection processes hold their partitions:
        start-up (imports, group joins) is kept out of the timed part."""
        groups = {self.kafka.ingest_group: scale, self.kafka.projection_group: scale}
        admin = KafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        deadline = time.monotonic() + within
        try:
            while True:
                found = admin.describe_groups(list(groups))
                if all(found[g]["group_state"] == "Stable" and len(found[g]["members"]) == n
                       for g, n in groups.items()):  # fmt: skip
                    return
                self.check_alive()
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench: the groups did not settle in {within:.0f} s")
                time.sleep(0.2)
        finally:
            admin.close()

    def publish(self, path: Path) -> int:
        """``leadledger publish FILE``, the command a producer team runs."""
        result = subprocess.run(
            [LEADLEDGER, "publish", str(path)], env=self.env, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"bench: leadledger publish failed:\n{result.stderr.decode()}")
        return int(result.stdout.split()[1])  # "published N events to ..."

    def counts(self) -> tuple[int, int, int]:
        """(records with a fate, events relayed, domain records in the read model)."""
        prefix = f"{self.kafka.ingest_topic}/"
        with self.engine.connect() as conn:
            fated = conn.scalar(
                sa.select(sa.func.count())
                .select_from(intake)
                .where(intake.c.origin.startswith(prefix, autoescape=True))
            )
            relayed = conn.scalar(
                sa.select(checkpoints.c.position).where(
                    checkpoints.c.name == "relay", checkpoints.c.stream == self.kafka.domain_topic
                )
            )
            projected = conn.scalar(
                sa.select(sa.func.sum(checkpoints.c.position + 1)).where(
                    checkpoints.c.name == "model:default",
                    checkpoints.c.stream.startswith(f"{self.kafka.domain_topic}:"),
                )
            )
        return int(fated or 0), int(relayed or 0), int(projected or 0)

    def stored(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.text("SELECT max(notification_id) FROM leadledger_events")))

    def wait_until_taken_in(self, records: int, within: float = CATCH_UP) -> None:
        """Until every record has a fate and every stored event is relayed and projected."""
        deadline = time.monotonic() + within
        while True:
            try:
                fated, relayed, projected = self.counts()
                done = fated == records and relayed == self.stored() == projected
            except sa.exc.DBAPIError:  # the tables are not made yet
                done = False
            if done:
                return
            self.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: not caught up in {within:.0f} s ({self.counts()})")
            time.sleep(0.2)

    def check_alive(self) -> None:
        for component, process, log in self.processes:
            if process.poll() is not None:
                log.flush()
                tail = Path(log.name).read_text(errors="replace")[-2000:]
                raise SystemExit(f"bench: run {component} exited {process.returncode}:\n{tail}")

    def peak_mib(self) -> dict[str, float]:
        """The largest peak RSS (VmHWM) among each component's running processes."""
        peaks: dict[str, float] = {}
        for component, process, _ in self.processes:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except OSError:  # gone, or not Linux
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    mib = int(line.split()[1]) / 1024
                    peaks[component] = max(peaks.get(component, 0.0), mib)
        return peaks

    def stop(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for _, process, log in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
        self.engine.dispose()


def end_to_end(path: Path, servers: Servers, logs: Path, scale: int) -> dict[str, Any]:
    """Publish ``path`` and time the deployment (``scale`` ingest and projection processes,
    one relay) from the first publish until everything is taken in."""
    with database(servers.postgres_admin) as url:
        deployment = Deployment(url, servers.bootstrap, logs)
        try:
            kafka_io.ensure_topics(deployment.kafka)
            deployment.start("ingest", scale)
            deployment.start("relay")
            deployment.start("projection", scale)
            deployment.wait_until_joined(scale)
            start = time.perf_counter()
            published = deployment.publish(path)
            published_at = time.perf_counter()
            deployment.wait_until_taken_in(published)
            seconds = time.perf_counter() - start
            events = deployment.stored()
            peaks = deployment.peak_mib()
        finally:
            deployment.stop()
    return {"published": published, "events": events, "seconds": seconds,
            "publish_s": published_at - start, "peak_mib": peaks}  # fmt: skip


def raw(path: Path, bootstrap: str, partitions: int) -> dict[str, Any]:
    """Baseline: kafka-python producing the file's lines as they are (acks=all, idempotent,
    the same batching as leadledger's producer) and one consumer reading them all back."""
    lines = [line for line in path.read_bytes().splitlines() if line]
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=5, batch_size=256 * 1024)  # fmt: skip
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, max_poll_records=2000)  # fmt: skip
    start = time.perf_counter()
    for line in lines:
        producer.send(topic, key=orjson.loads(line).get("lead_id", "").encode(), value=line)
    producer.flush()
    produced_at = time.perf_counter()
    read = 0
    while read < len(lines):
        read += sum(len(batch) for batch in consumer.poll(timeout_ms=1000).values())
    seconds = time.perf_counter() - start
    producer.close()
    consumer.close()
    return {"records": len(lines), "seconds": seconds, "produce_s": produced_at - start}


def freshness(path: Path, servers: Servers, logs: Path, rate: float, seconds: float
              ) -> dict[str, Any]:  # fmt: skip
    """Publish the file's first ``rate * seconds`` records at ``rate`` per second to a
    running deployment and time each touch from publish to its row in the facts."""
    events = [r.message for r in read_records(path) if r.message is not None]
    warm, timed_part = events[:50], events[50 : 50 + int(rate * seconds)]
    step = max(1, int(rate * POLL))  # records per send, one send per POLL
    sent: dict[tuple[str, str], float] = {}
    seen: dict[tuple[str, str], float] = {}
    with database(servers.postgres_admin) as url:
        deployment = Deployment(url, servers.bootstrap, logs)
        watcher = Watcher(deployment, sent, seen)
        try:
            publisher = Publisher(deployment.kafka)
            for component in ("ingest", "relay", "projection"):
                deployment.start(component)
            publisher.publish(warm)  # the processes join their groups and make their tables
            deployment.wait_until_taken_in(len(warm), within=300)
            watcher.start()
            began = time.perf_counter()
            for number, first in enumerate(range(0, len(timed_part), step)):
                batch = timed_part[first : first + step]
                at = time.perf_counter()
                publisher.publish(batch)
                with watcher.lock:
                    for event in batch:
                        if event.type == "touch":
                            sent[(event.source_system, event.event_id)] = at
                pause = began + (number + 1) * POLL - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            publishing_s = time.perf_counter() - began
            deadline = time.monotonic() + 300
            while len(seen) < len(sent) and time.monotonic() < deadline:
                time.sleep(POLL)
            publisher.close()
        finally:
            watcher.stop()
            deployment.stop()
    latencies = sorted(seen[key] - sent[key] for key in seen)
    return {
        "records": len(timed_part), "rate": len(timed_part) / publishing_s,
        "touches": len(sent), "seen": len(seen),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    }  # fmt: skip


class Watcher(threading.Thread):
    """Polls the facts every ``POLL`` seconds and notes when each sent touch shows up."""

    def __init__(self, deployment: Deployment, sent: dict[tuple[str, str], float],
                 seen: dict[tuple[str, str], float]) -> None:  # fmt: skip
        super().__init__(name="freshness", daemon=True)
        self.deployment, self.sent, self.seen = deployment, sent, seen
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(POLL):
            with self.lock:
                waiting = [key for key in self.sent if key not in self.seen]
            found = self._found(waiting)
            now = time.perf_counter()
            with self.lock:
                self.seen.update(dict.fromkeys(found, now))

    def _found(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        with self.deployment.engine.connect() as conn:
            for first in range(0, len(keys), 500):
                query = sa.select(touches.c.source_system, touches.c.event_id).where(
                    sa.tuple_(touches.c.source_system, touches.c.event_id).in_(
                        keys[first : first + 500]
                    )
                )
                found.extend((row.source_system, row.event_id) for row in conn.execute(query))
        return found

    def stop(self) -> None:
        if self.is_alive():
            self.stopping.set()
            self.join()
