"""docker-compose.yml and the Dockerfile keep the properties operators rely on.

tests/integration/test_compose.py checks that Compose accepts the file; this one reads it
as data and checks what Compose would accept just as happily when it is wrong: where
Kafka keeps its log, one build of the engine image, health checks, host ports.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from leadledger.consumers.runloop import HEARTBEAT_ENV

# PyYAML comes with the test extras; a virtualenv installed before it was added skips here
# (and CI, which installs the extras and allows no skip, would fail).
yaml = pytest.importorskip("yaml", reason="PyYAML is in the test extras: scripts/setup.sh dev")

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PROCESSES = ("ingest", "relay", "projection")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def interpolate(value: str) -> str:
    """``${NAME:-default}`` as Compose resolves it when NAME is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def volume_targets(service: dict[str, Any]) -> list[PurePosixPath]:
    """Where the service's named volumes are mounted (short syntax ``name:/path``)."""
    targets = []
    for volume in service.get("volumes", []):
        source, _, target = str(volume).partition(":")
        if not source.startswith(("/", ".", "~")):  # a named volume, not a bind mount
            targets.append(PurePosixPath(target.split(":")[0]))
    return targets


def test_kafka_keeps_its_log_in_the_mounted_volume(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    log_dirs = [PurePosixPath(d) for d in str(kafka["environment"]["KAFKA_LOG_DIRS"]).split(",")]
    targets = volume_targets(kafka)
    for log_dir in log_dirs:
        assert any(log_dir == t or t in log_dir.parents for t in targets), (log_dir, targets)


def test_postgres_keeps_its_data_in_a_volume(services: dict[str, dict[str, Any]]) -> None:
    postgres = services["postgres"]
    pgdata = PurePosixPath(
        postgres.get("environment", {}).get("PGDATA", "/var/lib/postgresql/data")
    )
    assert any(pgdata == t or t in pgdata.parents for t in volume_targets(postgres))


def test_the_engine_image_is_built_once_and_shared(services: dict[str, dict[str, Any]]) -> None:
    builders = [name for name, service in services.items() if "build" in service]
    assert len(builders) == 1, builders
    image = services[builders[0]]["image"]
    for name in ENGINE_PROCESSES:
        assert services[name]["image"] == image
        assert services[name]["command"] == ["run", name]
        if name not in builders:
            assert services[name].get("pull_policy") == "never", name


def test_every_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck", {})
        assert check.get("test"), name
        assert not check.get("disable"), name


def test_engine_health_checks_read_the_heartbeat_the_process_writes(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ENGINE_PROCESSES:
        service = services[name]
        heartbeat = service["environment"][HEARTBEAT_ENV]
        assert heartbeat in " ".join(service["healthcheck"]["test"]), name
        # The engines wait for healthy servers, not merely started ones.
        for server in ("kafka", "postgres"):
            assert service["depends_on"][server]["condition"] == "service_healthy"


def test_no_published_port_clashes_with_a_local_postgresql(
    services: dict[str, dict[str, Any]],
) -> None:
    host_ports = []
    for service in services.values():
        for port in service.get("ports", []):
            parts = interpolate(str(port)).split(":")
            if len(parts) >= 2:  # [ip:]host:container; a bare container port gets a random one
                host_ports.append(parts[-2])
    assert host_ports, "expected Kafka's host listener at least"
    assert "5432" not in host_ports


def test_topic_replication_is_set_for_the_engines(services: dict[str, dict[str, Any]]) -> None:
    for name in ENGINE_PROCESSES:
        environment = services[name]["environment"]
        assert int(environment["LEADLEDGER_KAFKA_REPLICATION_FACTOR"]) >= 1
        assert int(environment["LEADLEDGER_KAFKA_PARTITIONS"]) >= 1


def test_the_image_runs_as_an_unprivileged_user() -> None:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "no USER: the engine would run as root"
    assert users[-1] not in ("root", "0")
