"""The fault suite (issue 11, point 3): processes killed, the broker and the database taken
away mid-stream, and every record and read model checked afterwards.

Kafka mode, each on a fresh PostgreSQL database and a real broker:

1. ``run ingest``, ``run relay`` and ``run projection`` run side by side while a seeded data
   set (journeys with visitors, hand-overs, deals, spend and targets, plus re-sent copies,
   a key re-used with other content and bytes that are not Avro) streams in; each is
   killed with SIGKILL at seeded moments, at least ``KILLS`` times, each time after it has
   made progress (its intake rows, its checkpoint or its offsets moved) and while work is
   left, then restarted; finally each runs once more to the end.
2. The same three, supervised as an orchestrator would (restarted if they exit), while the
   broker (one of our own, on a port of its own) is stopped and started mid-stream.
3. The same, while every connection to the database is dropped mid-stream
   (``pg_terminate_backend``).

After each: ``leadledger reconcile --topic`` is exact; every offset of the ingest topic has a
fate, and the same fate a clean run (another consumer group reading the same topic into an
empty database, no faults) gave it; the served read model (lead states, credits under five
models, SLA verdicts, KPIs) equals the clean run's and a clean build from the same store.

Embedded mode: ``leadledger ingest FILE`` on a shuffled file is killed ``KILLS`` times at
seeded points of its reading (or of its projecting), re-run after each, then run to the end;
``reconcile FILE`` is exact, and every line's fate and every read model equal a clean
ingest's.

Run alone with ``scripts/test.sh -m faults``. Kill moments wait for progress, never for a
fixed time, so a loaded machine changes where they land, not whether they do.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
import sqlalchemy as sa
from kafka import TopicPartition

from bench.generator import generate
from leadledger import kafka as kafka_io
from leadledger import readmodels
from leadledger.config import Database, Kafka
from leadledger.consumers.ingest import run_ingest
from leadledger.consumers.runloop import RunLoop
from leadledger.files import read_jsonl
from leadledger.ledgerdb import LedgerDB, checkpoints, intake
from leadledger.messages import IngestEvent
from leadledger.pipeline import project_from_store, replay_from_store
from leadledger.publisher import Publisher
from leadledger.store import open_store
from tests.conftest import OwnBroker
from tests.e2e.cli import LEADLEDGER, eventually, leadledger
from tests.integration.test_one_truth import read_models, states

pytestmark = [pytest.mark.faults]
SEED = 20261130
KILLS = 20  # SIGKILLs per component that land mid-stream
SCENARIO_BUDGET = 240.0  # seconds a scenario may take before it is called stuck
COUNTS: Counter[str] = Counter()  # printed at the end of the module

Item = IngestEvent | bytes  # a valid event, or raw bytes sent as they are


@pytest.fixture(scope="module", autouse=True)
def summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print what the suite did, whatever the capture setting."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and COUNTS:
        line = ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()))
        reporter.write_line(f"\nfault suite: {line}")


# --- data -----------------------------------------------------------------------------


def hostile(records: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """``records`` with re-sent copies (duplicates) and one key re-used with other content
    (a conflict), each placed after its original (same key, same partition: after it)."""
    out = list(records)
    touches = [r for r in records if r["type"] == "touch"]
    for original in rng.sample(records, 12):
        out.insert(rng.randint(out.index(original) + 1, len(out)), dict(original))
    conflict = dict(rng.choice(touches), channel="conflicting_channel")
    out.insert(len(out) - rng.randint(1, 50), conflict)
    return out


def to_items(records: list[dict[str, Any]], path: Path, rng: random.Random) -> list[Item]:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    items: list[Item] = [r.message for r in read_jsonl(path) if r.message is not None]
    assert len(items) == len(records)
    for n in range(3):  # bytes that are no Avro record: dead letters
        items.insert(rng.randint(0, len(items)), b'{"not": "avro", "n": %d}' % n)
    return items


def chunked(items: list[Item], count: int) -> list[list[Item]]:
    size = -(-len(items) // count)
    return [items[i : i + size] for i in range(0, len(items), size)]


def publish(kafka: Kafka, chunk: list[Item], publisher: Publisher | None = None) -> int:
    own = publisher is None
    publisher = publisher or Publisher(kafka)
    try:
        events = [i for i in chunk if not isinstance(i, bytes)]
        assert publisher.publish(events).failed == []
        for raw in (i for i in chunk if isinstance(i, bytes)):
            publisher.send_raw(raw)
    finally:
        if own:
            publisher.close()
    return len(chunk)


# --- one Kafka-mode deployment, watched from outside --------------------------------------


class Deployment:
    """A PostgreSQL database and a topic prefix the three processes share, with their
    progress read from outside (the database, the broker) as an operator would."""

    COMMANDS: ClassVar[dict[str, list[str]]] = {
        "ingest": ["run", "ingest"],
        "relay": ["run", "relay", "--page-size", "10"],
        "projection": ["run", "projection"],
    }

    def __init__(self, url: str, bootstrap: str, prefix: str, logs: Path) -> None:
        self.url = url
        self.kafka = Kafka(bootstrap, prefix)
        self.env = {
            **os.environ,
            "LEADLEDGER_DATABASE_URL": url,
            "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LEADLEDGER_TOPIC_PREFIX": prefix,
            # Static membership: a restarted ingest or projection consumer takes its
            # partitions back at once, not after the dead member's 45 s session timeout.
            "LEADLEDGER_INGEST_INSTANCE_ID": f"ingest-{prefix}",
            "LEADLEDGER_PROJECTION_INSTANCE_ID": f"projection-{prefix}",
        }
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.started: Counter[str] = Counter()
        self.published = 0
        self._reader: Any = None
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.engine.dispose()

    def start(self, component: str, *extra: str) -> subprocess.Popen[bytes]:
        self.started[component] += 1
        log = self.logs / f"{component}-{self.started[component]}.log"
        with log.open("wb") as out:
            return subprocess.Popen(
                [LEADLEDGER, *self.COMMANDS[component], *extra], env=self.env,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log_of(self, component: str, run: int | None = None) -> str:
        """The output of ``component``'s run number ``run`` (by default its last run)."""
        number = self.started[component] if run is None else run
        return (self.logs / f"{component}-{number}.log").read_text()[-4000:]

    def ended_runs(self, exits: dict[str, list[int]]) -> str:
        """The output of every run that exited, for an assertion that no run should have."""
        return "\n".join(
            f"--- {name} run {run} (exit {code}):\n{self.log_of(name, run)}"
            for name, codes in exits.items()
            for run, code in enumerate(codes, start=1)
        )

    def _int(self, query: Any) -> int:
        """An integer read from the database; 0 while the tables do not exist yet, or while
        a dropped connection is replaced (the pool checks each one before use)."""
        for attempt in range(3):
            try:
                with self.engine.connect() as conn:
                    return int(conn.scalar(query) or 0)
            except sa.exc.DBAPIError:
                time.sleep(0.1 * (attempt + 1))
        return 0

    def intake_rows(self) -> int:
        origins = intake.c.origin.startswith(f"{self.kafka.ingest_topic}/", autoescape=True)
        return self._int(sa.select(sa.func.count()).select_from(intake).where(origins))

    def relayed(self) -> int:
        relay = (checkpoints.c.name == "relay", checkpoints.c.stream == self.kafka.domain_topic)
        return self._int(sa.select(checkpoints.c.position).where(*relay))

    def stored(self) -> int:
        return self._int(sa.text("SELECT max(notification_id) FROM leadledger_events"))

    def projected(self, name: str = "model:default") -> int:
        """Domain-events records the sink ``name`` has read (its offsets, summed)."""
        return self._int(sa.select(sa.func.sum(checkpoints.c.position + 1)).where(
            checkpoints.c.name == name,
            checkpoints.c.stream.startswith(f"{self.kafka.domain_topic}:", autoescape=True),
        ))  # fmt: skip

    def domain_size(self) -> int:
        """Records on the domain-events topic (one reader, kept: a new one per call costs
        more than the processes it watches)."""
        with self._lock:
            if self._reader is None:
                self._reader = kafka_io.consumer(self.kafka)
            topic = self.kafka.domain_topic
            partitions = [TopicPartition(topic, p)
                          for p in self._reader.partitions_for_topic(topic) or ()]  # fmt: skip
            return sum(self._reader.end_offsets(partitions).values())


# --- scenario 1: SIGKILLs -----------------------------------------------------------------


class KillLoop:
    """Starts one component, waits until it has made progress, lets it work a seeded while
    longer and kills it with SIGKILL, again and again, until ``KILLS`` kills landed
    mid-stream (after progress, with records still to come); then runs it to the end
    (``--until-idle``), again while its upstream has not finished."""

    def __init__(
        self,
        deployment: Deployment,
        component: str,
        rng: random.Random,
        progress: Callable[[], int],
        backlog: Callable[[], int],
        enough: int,
        upstream: KillLoop | Feeder,
    ) -> None:
        self.d, self.component, self.rng = deployment, component, rng
        self.progress, self.backlog, self.enough = progress, backlog, enough
        self.upstream = upstream
        self.landed = 0  # kills mid-stream
        self.in_hand = 0  # of which, kills while records it had not settled were waiting
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=component, daemon=True)

    def upstream_done(self) -> bool:
        return self.upstream.done.is_set()

    def _main(self) -> None:
        try:
            self._kills()
            while True:
                finished = self.upstream_done()
                process = self.d.start(self.component, "--until-idle", "3")
                if process.wait(timeout=SCENARIO_BUDGET) != 0:
                    raise AssertionError(f"{self.component} run to the end failed:\n"
                                         f"{self.d.log_of(self.component)}")  # fmt: skip
                if finished:
                    break
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            self.done.set()

    def _wait_for_work(self, deadline: float) -> bool:
        while self.backlog() < self.enough:
            if self.upstream_done() and self.backlog() <= 0:
                return False  # upstream finished and nothing is left: no mid-stream kill
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def _kills(self) -> None:
        deadline = time.monotonic() + SCENARIO_BUDGET
        cycle = 0
        while self.landed < KILLS:
            if not self._wait_for_work(deadline):
                return
            before = self.progress()
            process = self.d.start(self.component)
            started = time.monotonic()
            while self.progress() <= before and process.poll() is None:
                if time.monotonic() - started > 60:
                    break
                time.sleep(0.02)
            time.sleep(self.rng.uniform(0.0, 0.4))  # the seeded extra
            alive = process.poll() is None
            backlog = self.backlog()
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            if process.returncode != -signal.SIGKILL:
                raise AssertionError(
                    f"{self.component} exited {process.returncode} before it was killed:\n"
                    f"{self.d.log_of(self.component)}"
                )
            moved = self.progress() > before
            if alive and moved and (backlog > 0 or not self.upstream_done()):
                self.landed += 1
                self.in_hand += backlog > 0
            cycle += 1
            if time.monotonic() > deadline:
                return


class Feeder:
    """Publishes the data set a chunk at a time, three chunks per kill of the component
    with the fewest kills (or after a few seconds), so that each is killed mid-stream;
    then, once every component has its kills, the rest at once."""

    def __init__(self, deployment: Deployment, chunks: list[list[Item]],
                 fewest: Callable[[], int]) -> None:  # fmt: skip
        self.d, self.chunks, self.fewest = deployment, chunks, fewest
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="feeder", daemon=True)

    def _main(self) -> None:
        try:
            with Publisher(self.d.kafka) as publisher:
                for number, chunk in enumerate(self.chunks):
                    self.d.published += publish(self.d.kafka, chunk, publisher)
                    waited = time.monotonic()
                    while self.fewest() < KILLS and number >= 3 * (self.fewest() + 1):
                        if time.monotonic() - waited > 3:
                            break
                        time.sleep(0.1)
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()


def run_kill_scenario(
    deployment: Deployment, items: list[Item], rng: random.Random
) -> Counter[str]:
    d = deployment
    loops: dict[str, KillLoop] = {}
    feeder = Feeder(d, chunked(items, 4 * KILLS),
                    lambda: min((loop.landed for loop in loops.values()), default=0))  # fmt: skip
    ingest = KillLoop(d, "ingest", rng, d.intake_rows, lambda: d.published - d.intake_rows(),
                      1, feeder)  # fmt: skip
    relay = KillLoop(d, "relay", random.Random(rng.random()), d.relayed,
                     lambda: d.stored() - d.relayed(), 50, ingest)  # fmt: skip
    projection = KillLoop(d, "projection", random.Random(rng.random()),
                          lambda: d.projected("facts"),
                          lambda: d.domain_size() - d.projected(), 50, relay)  # fmt: skip
    loops.update(ingest=ingest, relay=relay, projection=projection)
    feeder.thread.start()
    for loop in loops.values():
        loop.thread.start()
    for loop in loops.values():
        loop.thread.join(timeout=2 * SCENARIO_BUDGET)
        if loop.thread.is_alive():
            raise AssertionError(f"{loop.component}: still running after the budget")
        if loop.error is not None:
            raise loop.error
    if feeder.error is not None:
        raise feeder.error
    kills = Counter({name: loop.landed for name, loop in loops.items()})
    in_hand = {name: loop.in_hand for name, loop in loops.items()}
    print(f"kills {dict(kills)}, of which with records in hand {in_hand}")
    for name, count in kills.items():
        assert count >= KILLS, f"only {count} kills of {name} landed mid-stream ({kills})"
    return kills


# --- scenarios 2 and 3: the broker, the database -----------------------------------------


class Supervised:
    """A long-running component kept up as an orchestrator keeps it: restarted when it
    exits, its exits recorded; stopped with SIGTERM, which it must obey."""

    def __init__(self, deployment: Deployment, component: str) -> None:
        self.d, self.component = deployment, component
        self.exits: list[int] = []
        self.stopping = False
        self.process: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._main, name=component, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        while True:
            with self.lock:
                if self.stopping:
                    return
                self.process = self.d.start(self.component)
            code = self.process.wait()
            if self.stopping:
                return
            self.exits.append(code)
            time.sleep(0.5)

    def stop(self) -> int:
        with self.lock:
            self.stopping = True
            process = self.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(f"{self.component} ignored SIGTERM for 60 s (a hang):\n"
                                 f"{self.d.log_of(self.component)}") from None  # fmt: skip


def run_stream_with_fault(
    deployment: Deployment, items: list[Item], fault: Callable[[], None]
) -> dict[str, list[int]]:
    """Stream ``items`` in while the three run supervised; call ``fault`` once all three
    have made progress and half the stream is still to come; return each one's exits."""
    d = deployment
    chunks = chunked(items, 24)
    d.published += publish(d.kafka, chunks[0])
    running = {name: Supervised(d, name) for name in Deployment.COMMANDS}

    def logs() -> str:
        return "\n".join(f"--- {n}:\n{d.log_of(n)}" for n in running)

    try:
        publisher = Publisher(d.kafka)
        for chunk in chunks[1:12]:
            d.published += publish(d.kafka, chunk, publisher)
            time.sleep(0.2)
        publisher.close()
        eventually("all three made progress",
                   lambda: d.intake_rows() > 0 and d.relayed() > 0 and d.projected() > 0,
                   120, logs)  # fmt: skip
        fault()
        publisher = Publisher(d.kafka)  # a new one: the old one's connections may be gone
        for chunk in chunks[12:]:
            d.published += publish(d.kafka, chunk, publisher)
            time.sleep(0.1)
        publisher.close()

        def caught_up() -> bool:
            return (d.intake_rows() == d.published and d.relayed() == d.stored()
                    and d.projected() == d.domain_size())  # fmt: skip

        eventually("every record ingested, relayed and projected (else a process hangs)",
                   caught_up, 180, logs)  # fmt: skip
    finally:
        codes = {name: s.stop() for name, s in running.items()}
    assert codes == dict.fromkeys(running, 0), f"SIGTERM exits: {codes}\n{logs()}"
    return {name: s.exits for name, s in running.items()}


# --- checks --------------------------------------------------------------------------------


def fates(ledger: LedgerDB, prefix: str) -> dict[str, str]:
    rows = ledger.select(intake, intake.c.origin.startswith(prefix, autoescape=True))
    return {row.origin: row.status for row in rows}


def learned(ledger: LedgerDB, name: str) -> dict[str, Any]:
    """The lead states of read model ``name`` without the times each fact was recorded:
    two stores learn the same facts at different moments; the rest must be equal."""

    def without(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without(v) for k, v in value.items() if k != "recorded"}
        if isinstance(value, list):
            return [without(v) for v in value]
        return value

    return {lead: without(json.loads(state)) for lead, state in states(ledger, name).items()}


def offsets_of(kafka: Kafka) -> set[str]:
    """Every origin the ingest topic holds: topic/partition/offset."""
    topic = kafka.ingest_topic
    held = kafka_io.partition_offsets(kafka, topic)
    return {f"{topic}/{p}/{o}" for p, (start, end) in held.items() for o in range(start, end)}


def differences(got: dict[str, str], want: dict[str, str]) -> str:
    keys = sorted(set(got) | set(want))
    return "\n".join(f"{k}: {got.get(k)} != clean {want.get(k)}"
                     for k in keys if got.get(k) != want.get(k))[:3000]  # fmt: skip


def check_deployment(deployment: Deployment, clean_dir: Path) -> int:
    """Reconcile, each record's fate against a clean run's, the read models against a
    clean run's and a clean build's; return the records checked."""
    d, kafka = deployment, deployment.kafka
    result = leadledger("reconcile", "--topic", env=d.env)
    assert "unaccounted 0" in result.stdout, result.stdout
    prefix = f"{kafka.ingest_topic}/"
    origins = offsets_of(kafka)
    assert len(origins) == d.published
    database = Database.from_settings(url=d.url)
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    clean = Database.from_settings(data_dir=clean_dir)
    clean_store, clean_ledger = open_store(clean), LedgerDB(clean.ledger_url())
    try:
        got = fates(ledger, prefix)
        assert set(got) == origins, f"{len(origins - set(got))} offsets have no fate"
        # The clean run: another consumer group reads the same topic into an empty
        # database, with nothing killed; same origins, so fates compare one by one.
        quiet = RunLoop(until_idle=3, install_signals=False)
        run_ingest(kafka, clean_store, clean_ledger, quiet, group=f"clean-{uuid.uuid4().hex[:8]}",
                   max_wait=timedelta(seconds=300))  # fmt: skip
        project_from_store(clean_store, clean_ledger)
        want = fates(clean_ledger, prefix)
        assert got == want, differences(got, want)
        assert Counter(got.values())["dead_letter"] >= 4  # the conflict and the raw bytes
        assert store.max_position() == clean_store.max_position()
        # The served read model equals the clean run's, and a clean build of this store.
        served = readmodels.served(ledger)
        clean_served = readmodels.served(clean_ledger)
        assert learned(ledger, served.name) == learned(clean_ledger, clean_served.name)
        assert read_models(ledger, served.name) == read_models(clean_ledger, clean_served.name)
        rebuilt = readmodels.create(ledger, "clean", served.definitions)
        replay_from_store(store, ledger, rebuilt)
        ledger.set_read_model_status("clean", "ready")
        assert states(ledger, served.name) == states(ledger, "clean")
        assert read_models(ledger, served.name) == read_models(ledger, "clean")
    finally:
        for thing in (ledger, store, clean_ledger, clean_store):
            thing.close()
    COUNTS["records checked"] += len(origins)
    return len(origins)


def kafka_data(journeys: int, seed: int, tmp_path: Path) -> list[Item]:
    rng = random.Random(seed)
    records = hostile(list(generate(journeys=journeys, seed=seed)), rng)
    return to_items(records, tmp_path / "data.jsonl", rng)


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.kafka
@pytest.mark.postgres
def test_sigkills_of_ingest_relay_and_projection_lose_nothing_and_count_nothing_twice(
    kafka_bootstrap: str, topic_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    items = kafka_data(400, SEED, tmp_path)
    deployment = Deployment(postgres_url, kafka_bootstrap, topic_prefix, tmp_path / "logs")
    try:
        kills = run_kill_scenario(deployment, items, rng)
        checked = check_deployment(deployment, tmp_path / "clean")
    finally:
        deployment.close()
    for name, count in kills.items():
        COUNTS[f"kills of {name}"] += count
    COUNTS["scenarios"] += 1
    print(f"kills {dict(kills)}; starts {dict(deployment.started)}; {checked} records checked")


@pytest.mark.kafka
@pytest.mark.postgres
def test_a_broker_stopped_and_restarted_mid_stream_loses_nothing(
    own_broker: OwnBroker, topic_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    items = kafka_data(300, SEED + 2, tmp_path)
    deployment = Deployment(postgres_url, own_broker.address, topic_prefix, tmp_path / "logs")

    def outage() -> None:
        own_broker.stop()
        try:
            eventually("each process says it waits for Kafka",
                       lambda: all("waiting for Kafka" in deployment.log_of(n)
                                   for n in Deployment.COMMANDS),
                       30, lambda: "")  # fmt: skip
        finally:
            own_broker.start()

    try:
        exits = run_stream_with_fault(deployment, items, outage)
        checked = check_deployment(deployment, tmp_path / "clean")
    finally:
        deployment.close()
    assert exits == {name: [] for name in Deployment.COMMANDS}, (
        f"exits during the outage: {exits}\n{deployment.ended_runs(exits)}"
    )
    COUNTS["scenarios"] += 1
    COUNTS["broker restarts"] += 1
    print(f"broker stopped and restarted; {checked} records checked")


@pytest.mark.kafka
@pytest.mark.postgres
def test_dropped_database_connections_mid_stream_lose_nothing(
    kafka_bootstrap: str, topic_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    items = kafka_data(300, SEED + 3, tmp_path)
    deployment = Deployment(postgres_url, kafka_bootstrap, topic_prefix, tmp_path / "logs")
    name = postgres_url.rpartition("/")[2]
    dropped = [0]

    def drop_connections() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,),
            ).fetchall()  # fmt: skip
        dropped[0] = len(rows)

    try:
        exits = run_stream_with_fault(deployment, items, drop_connections)
        checked = check_deployment(deployment, tmp_path / "clean")
    finally:
        deployment.close()
    assert dropped[0] >= 3, "the three processes' connections were dropped"
    COUNTS["scenarios"] += 1
    COUNTS["database connection drops"] += 1
    COUNTS["restarts after the drop"] += sum(len(e) for e in exits.values())
    print(f"{dropped[0]} connections dropped; exits {exits}; {checked} records checked")


# --- embedded mode -----------------------------------------------------------------------


def read_position(pid: int, path: Path) -> int | None:
    """How far process ``pid`` has read ``path`` (None while it does not hold it open)."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                    return int(info.split("pos:")[1].split()[0])
            except (OSError, IndexError, ValueError):
                continue
    except OSError:
        pass
    return None


def embedded_file(path: Path, rng: random.Random) -> Path:
    """A shuffled file with spend, targets, visitor touches and identifies, re-sent copies,
    a key conflict, a line that is no JSON and a win no lead can have."""
    records = hostile(list(generate(journeys=600, seed=SEED + 4)), rng)
    kinds = Counter(r["type"] for r in records)
    assert all(kinds[k] for k in ("spend", "plan_target", "touch", "identify", "deal_won"))
    records.append({"type": "deal_won", "event_id": "orphan-win", "lead_id": "nobody",
                    "source_system": "crm", "occurred_at": "2025-06-01T10:00:00Z",
                    "deal_id": "D-none", "amount": "100", "currency": "EUR"})  # fmt: skip
    rng.shuffle(records)
    lines = [json.dumps(r) for r in records]
    lines.insert(rng.randint(0, len(lines)), '{"type": "touch", "event_id": ')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sigkilled_embedded_ingest_rerun_equals_a_clean_ingest(tmp_path: Path) -> None:
    rng = random.Random(SEED + 4)
    path = embedded_file(tmp_path / "shuffled.jsonl", rng).resolve()
    size = path.stat().st_size
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    leadledger("--data-dir", str(clean), "ingest", str(path))
    landed = runs = 0
    deadline = time.monotonic() + SCENARIO_BUDGET
    while landed < KILLS and time.monotonic() < deadline:
        runs += 1
        target = rng.uniform(0.0, 1.05) * size  # past the end: while it projects
        process = subprocess.Popen(
            [LEADLEDGER, "--data-dir", str(killed), "ingest", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        seen = False
        while process.poll() is None:
            position = read_position(process.pid, path)
            seen = seen or position is not None
            if (position is not None and position >= target) or (seen and position is None):
                break  # read as far as the seeded point, or done reading (projecting)
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.2))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            landed += 1
        process.wait(timeout=60)
        assert process.stderr is not None
        errors = process.stderr.read().decode()[-3000:]
        process.stderr.close()
        assert process.returncode in (0, -signal.SIGKILL), errors
    assert landed >= KILLS, f"only {landed} of {runs} runs were killed mid-run"
    leadledger("--data-dir", str(killed), "ingest", str(path))

    lines = [leadledger("--data-dir", str(where), "reconcile", str(path)).stdout
             for where in (killed, clean)]  # fmt: skip
    assert "unaccounted 0" in lines[0]
    assert lines[0] == lines[1]
    prefix = f"{path}:"
    ledgers = [LedgerDB(Database.from_settings(data_dir=d).ledger_url()) for d in (killed, clean)]
    try:
        got, want = (fates(ledger, prefix) for ledger in ledgers)
        assert got == want, differences(got, want)
        assert len(got) == sum(1 for _ in read_jsonl(path))
        served = [readmodels.served(ledger).name for ledger in ledgers]
        assert learned(ledgers[0], served[0]) == learned(ledgers[1], served[1])
        assert read_models(ledgers[0], served[0]) == read_models(ledgers[1], served[1])
    finally:
        for ledger in ledgers:
            ledger.close()
    COUNTS["kills of embedded ingest"] += landed
    COUNTS["records checked"] += len(got)
    COUNTS["scenarios"] += 1
    print(f"{landed} kills in {runs} runs of ingest; {len(got)} records checked")
