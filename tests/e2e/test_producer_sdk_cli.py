"""README's producer SDK example, run exactly as it is written, against a real broker."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import leadledger

pytestmark = pytest.mark.kafka
README = Path(__file__).resolve().parents[2] / "README.md"


def example() -> str:
    """The first Python block of README's "Producer SDK" section."""
    section = README.read_text(encoding="utf-8").split("\n## Producer SDK\n", 1)[1]
    found = re.search(r"^```python\n(.*?)^```$", section.split("\n## ", 1)[0], re.M | re.S)
    assert found, "README's Producer SDK section has no python example"
    return found.group(1)


def test_the_readme_example_publishes_what_ingest_stores(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = {
        "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADLEDGER_TOPIC_PREFIX": topic_prefix,
        "LEADLEDGER_DATA_DIR": str(tmp_path / "d"),
    }
    ran = subprocess.run(
        [sys.executable, "-c", example()], env={**os.environ, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["refused: Input should have timezone info", "sent 5 of 5"]

    leadledger("run", "ingest", "--until-idle", "5", env=env)
    reconciled = leadledger("reconcile", "--topic", env=env)
    assert "received 5 = 5 stored + 0 duplicate + 0 dead-letter + 0 parked; unaccounted 0" in (
        reconciled.stdout
    )
    assert json.loads(leadledger("deadletters", "list", "--format", "json", env=env).stdout) == []
