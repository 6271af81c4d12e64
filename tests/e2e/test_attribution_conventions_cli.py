"""The global convention through the CLI: the credit ledger adds up to the report."""

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from leadledger import demo
from leadledger.projections.attribution import UNATTRIBUTED
from tests.e2e.cli import leadledger


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("conventions")
    demo_file = demo.write_jsonl(demo.generate(leads=200, seed=11), folder / "demo.jsonl")
    leadledger("--data-dir", str(folder / "data"), "ingest", str(demo_file))
    return folder / "data"


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_global_ledger_rows_add_up_to_the_reported_channel_totals(
    model: str, data_dir: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "global.toml"
    rules.write_text(f'[attribution.models.{model}]\nconvention = "global"\n', encoding="utf-8")
    given = ("--data-dir", str(data_dir))
    chosen = ("--model", model, "--definitions", str(rules))
    report = json.loads(
        leadledger(*given, "report", "attribution", *chosen, "--format", "json").stdout
    )
    rows = list(csv.DictReader(io.StringIO(leadledger(*given, "credits", *chosen).stdout)))
    ledger: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        ledger[(row["channel"], row["currency"])] += Decimal(row["value"])
    assert {(r["channel"], r["currency"]): Decimal(r["value"]) for r in report["credits"]} == ledger
    assert len(report["credits"]) > 2
    without_touch = [r for r in rows if not r["touch_event_id"] and r["channel"] != UNATTRIBUTED]
    if model == "markov":  # global Markov credits channels off a conversion's path
        assert without_touch
        conversion = without_touch[0]["conversion_id"]
        shown = json.loads(leadledger(*given, "explain", conversion, *chosen).stdout)
        assert shown["convention"] == "global"
        assert shown["channels_not_on_path"]
        credited = [*shown["touches"], *shown["channels_not_on_path"]]
        assert sum(Decimal(t["value"]) for t in credited) == Decimal(shown["value"])
    else:  # global Shapley is the game's own split, on the path's touches
        assert without_touch == []
