"""The README's Kafka-mode block, run as it stands in a shell, on the real broker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leadledger import demo
from tests.conftest import ROOT

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def kafka_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Kafka mode") :]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, "the Kafka-mode section has a sh block"
    return found.group(1)


def test_the_readme_kafka_commands_work_as_written(
    kafka_bootstrap: str, topic_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    block = kafka_block()
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(r) + "\n" for r in demo.generate(leads=30, seed=41)))
    # Two substitutions only: the input file, and a fresh database instead of the shared one.
    assert "events.jsonl" in block
    assert 'export LEADLEDGER_DATABASE_URL="$(scripts/postgres-local.sh ensure' in block
    script = block.replace("events.jsonl", str(events)).replace(
        '"$(scripts/postgres-local.sh ensure | tail -n 1)"', f'"{postgres_url}"'
    )
    env = {**os.environ, "LEADLEDGER_TOPIC_PREFIX": topic_prefix,
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=400, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # The last command printed the attribution report; reconcile found nothing missing.
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["conversions"] > 0
    assert "unaccounted 0" in result.stdout
