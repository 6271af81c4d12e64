"""Fixtures for the three tiers, and the real servers the integration tiers need.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` if set; else a testcontainers Kafka when a Docker
engine answers a ping; else the local KRaft broker of ``scripts/kafka-local.sh``.
PostgreSQL: ``LEADLEDGER_TEST_POSTGRES_URL`` if set; else ``scripts/postgres-local.sh``.
When ``CI`` is set, a test that cannot get its server fails; it never skips.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from leadledger.config import Database

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
IN_CI = bool(os.environ.get("CI"))
TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def unavailable(what: str, why: str) -> None:
    """Fail in CI, skip elsewhere: CI must never pass by skipping a real-server test."""
    message = f"{what} unavailable: {why}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_engine_answers() -> bool:
    try:
        import docker

        return bool(docker.from_env(timeout=3).ping())
    except Exception:  # no engine, no socket, no permission: all mean "no"
        return False


def _script_last_line(script: str, *args: str, timeout: float) -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if env := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield env
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server()
        return
    try:
        address = _script_last_line("kafka-local.sh", "start", timeout=600)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        unavailable("Kafka broker", str(exc))
    yield address
    # Kafka 4 removed old protocol versions (KIP-896): the broker logs any client that
    # still sends one. Our clients must negotiate versions the broker supports.
    log = Path(_script_last_line("kafka-local.sh", "log", timeout=30))
    refused = [line for line in log.read_text().splitlines() if "UnsupportedVersion" in line]
    assert not refused, "the broker refused a client's protocol version:\n" + "\n".join(refused[:5])


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic namespace per test, so tests never see each other's records."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get("LEADLEDGER_TEST_POSTGRES_URL")
    if not url:
        try:
            url = _script_last_line("postgres-local.sh", "ensure", timeout=600)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            unavailable("PostgreSQL", str(exc))
            raise AssertionError("unreachable") from exc
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        unavailable("PostgreSQL", f"{url}: {exc}")
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"ll_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_admin_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """Each store test runs once on SQLite and once on PostgreSQL: one contract, two backends."""
    if request.param == "sqlite":
        return Database.from_settings(data_dir=tmp_path / "data")
    url = request.getfixturevalue("postgres_url")
    return Database.from_settings(url=url)


def free_port_pair() -> int:
    """A port whose successor is free too: the local broker's controller takes port + 1."""
    for _ in range(50):
        port = closed_port()
        try:
            with socket.socket() as second:
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two adjacent free ports")


class OwnBroker:
    """A broker of scripts/kafka-local.sh on a port of its own, stopped and started at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"

    def _script(self, action: str) -> None:
        result = subprocess.run(
            [str(ROOT / "scripts" / "kafka-local.sh"), action],
            env={**os.environ, "LEADLEDGER_KAFKA_PORT": str(self.port)},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"kafka-local.sh {action}: {result.stderr[-2000:]}")

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def remove(self) -> None:
        self._script("reset")  # stops it and deletes its data


@pytest.fixture
def own_broker() -> Iterator[OwnBroker]:
    broker = OwnBroker(free_port_pair())
    try:
        broker.start()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        broker.remove()
        unavailable("a broker of our own", str(exc))
    try:
        yield broker
    finally:
        broker.remove()
