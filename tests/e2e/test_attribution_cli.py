"""Attribution through the CLI: every model, the credit ledger, explain, definitions."""

import json
from pathlib import Path

import pytest

from leadledger import demo
from leadledger.projections.attribution import MODELS
from tests.e2e.cli import leadledger

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    return demo.write_jsonl(demo.generate(leads=300, seed=5), folder / "demo.jsonl")


def test_two_replays_give_byte_identical_ledgers(demo_file: Path, tmp_path: Path) -> None:
    for replay in ("one", "two"):
        leadledger("--data-dir", str(tmp_path / replay), "ingest", str(demo_file))
    for model in ("position_based", "markov", "shapley"):
        one, two = (
            leadledger("--data-dir", str(tmp_path / r), "credits", "--model", model).stdout
            for r in ("one", "two")
        )
        assert one == two
        assert one.count("\n") > 50
        assert one.startswith("conversion_id,touch_event_id,channel,campaign,model,definitions,")


@pytest.fixture(scope="module")
def ingested(demo_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A data directory with the demo ingested, and its won revenue under first touch."""
    data_dir = tmp_path_factory.mktemp("every-model")
    leadledger("--data-dir", str(data_dir), "ingest", str(demo_file))
    report = json.loads(
        leadledger("--data-dir", str(data_dir), "report", "attribution", "--format", "json").stdout
    )
    return data_dir, sum(float(row["value"]) for row in report["credits"])


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_reports_credit_that_sums_to_the_revenue(
    model: str, ingested: tuple[Path, float]
) -> None:
    data_dir, revenue = ingested
    report = json.loads(
        leadledger("--data-dir", str(data_dir), "report", "attribution", "--model", model,
                   "--format", "json").stdout
    )  # fmt: skip
    assert report["model"] == model
    assert sum(float(row["value"]) for row in report["credits"]) == pytest.approx(revenue)
    assert revenue > 0


def test_explain_shows_the_path_and_why(tmp_path: Path) -> None:
    leadledger("--data-dir", str(tmp_path), "ingest", str(DATA / "skeleton.jsonl"))
    won = json.loads(
        leadledger(
            "--data-dir", str(tmp_path), "explain", "deal_won:w-l3", "--model", "linear"
        ).stdout
    )
    assert [(t["touch_event_id"], t["weight"], t["why"]) for t in won["touches"]] == [
        ("t-l3-late", "0.5", "on the path"),
        ("t-l3-1", "0.5", "on the path"),
        ("t-l3-after", "0", "after the conversion"),
    ]
    assert won["value"] == "400.00"
    missing = leadledger("--data-dir", str(tmp_path), "explain", "deal_won:nope", check=False)
    assert "no conversion 'deal_won:nope' in the read model" in missing.stderr


def test_definitions_file_changes_the_report_and_its_hash(tmp_path: Path) -> None:
    leadledger("--data-dir", str(tmp_path), "ingest", str(DATA / "skeleton.jsonl"))
    rules = tmp_path / "defs.toml"
    rules.write_text('[attribution.channels]\nexclude = ["referral"]\n')
    report = ("--data-dir", str(tmp_path), "report", "attribution", "--format", "json")
    base = json.loads(leadledger(*report).stdout)
    changed = json.loads(leadledger(*report, "--definitions", str(rules)).stdout)
    assert base["definitions"] != changed["definitions"]
    # Without referral, L3's first touch is the organic search touch.
    channels = {r["channel"] for r in changed["credits"]}
    assert channels == {"(unattributed)", "email", "organic_search", "paid_search"}
    rules.write_text("[attribution]\nlookback = 3\n")
    bad = leadledger("--data-dir", str(tmp_path), "report", "attribution", "--definitions",
                     str(rules), check=False)  # fmt: skip
    assert bad.returncode == 1
    assert "defs.toml: attribution.lookback: Extra inputs are not permitted" in bad.stderr


def test_spend_report_gives_cost_per_attributed_lead_mql_deal_and_roas(tmp_path: Path) -> None:
    # First touch (see tests/expected.py): L1 -> paid_search, L2 -> email, L3 -> referral,
    # for its lead, its MQL and its won deal. The paid_search day was re-reported: 150 wins.
    for name in ("skeleton.jsonl", "spend.jsonl"):
        leadledger("--data-dir", str(tmp_path), "ingest", str(DATA / name))
    report = json.loads(
        leadledger("--data-dir", str(tmp_path), "report", "spend", "--format", "json").stdout
    )
    rows = {row["channel"]: row for row in report["rows"]}
    assert rows["email"] == {
        "channel": "email", "currency": "EUR", "spend": "50.00", "leads": "1", "mqls": "1",
        "deals": "1", "revenue": "2500.50", "cost_per_lead": "50.00", "cost_per_mql": "50.00",
        "cost_per_deal": "50.00", "roas": "50.01",
    }  # fmt: skip
    assert (rows["paid_search"]["spend"], rows["paid_search"]["roas"]) == ("150.00", "6.666667")
    assert (rows["referral"]["cost_per_deal"], rows["referral"]["roas"]) == ("20.00", "20")
    assert set(rows) == {"email", "paid_search", "referral"}
