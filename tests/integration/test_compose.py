"""docker-compose.yml loads as `docker compose config` would load it (compose-go)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "compose-check.sh"), str(path)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def test_compose_file_is_accepted_with_kafka_postgres_and_the_three_processes() -> None:
    result = check(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stderr
    for service in ("kafka:", "postgres:", "ingest:", "relay:", "projection:"):
        assert f"\n  {service}\n" in result.stdout
    for process in ("ingest", "relay", "projection"):
        assert f"    command:\n      - run\n      - {process}\n" in result.stdout
    assert "image: apache/kafka:" in result.stdout


def test_a_broken_compose_file_is_rejected_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        "services:\n  relay:\n    image: leadledger\n    depends_on: [nowhere]\n", encoding="utf-8"
    )
    result = check(broken)
    assert result.returncode == 1
    assert "nowhere" in result.stderr
