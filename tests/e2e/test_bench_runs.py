"""``python -m bench --size tiny`` runs and prints every figure beside its baseline ratio.

Speed is measured by the benchmark, never asserted here: this only keeps it from rotting.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leadledger.projections.attribution import MODELS

ROOT = Path(__file__).resolve().parents[2]
FIGURES = [
    "ingest_file (events stored/s)",
    "ingest command (ingest_file + project_from_store)",
    "replay_from_store (new read model)",
    "replay_from_store, same event types",
    *(f"attribution {name}" for name in MODELS),
    "kafka end to end, 1 ingest + 1 projection processes",
    "kafka end to end, 2 ingest + 2 projection processes",
]
LINE = re.compile(r"^(?P<name>[^:]+): [\d,]+ \S+ \| baseline [^|]+: [\d,]+ \S+ \| ratio \d+\.\d\d")


FRESHNESS = re.compile(r"freshness at [\d,]+ records/s .* (\d[\d,]*) of \1 touches timed: p50 ")


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.timeout(540)
def test_tiny_benchmark_prints_each_figure_with_its_baseline_ratio(
    kafka_bootstrap: str, postgres_admin_url: str
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADLEDGER_TEST_POSTGRES_URL": postgres_admin_url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "tiny"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=480, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = {m["name"] for line in result.stdout.splitlines() if (m := LINE.match(line))}
    assert printed == set(FIGURES), result.stdout
    assert "load average" in result.stdout
    assert "SQLite" in result.stdout
    assert "0 dead-lettered" in result.stdout
    assert FRESHNESS.search(result.stdout), result.stdout  # every timed touch was seen
