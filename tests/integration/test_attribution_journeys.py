"""Fitted models over the journey read model: every journey, identified or not, and
explain under Markov's global convention."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import ingest_file, project_from_store
from leadledger.projections.attribution import TouchPoint, attribute
from leadledger.projections.definitions import DEFAULTS, Definitions, path_function
from leadledger.readmodels import served
from leadledger.reports import credits_for, explain, load_journeys
from leadledger.store import open_store


def event(kind: str, event_id: str, day: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": event_id, "occurred_at": f"2026-02-{day:02d}T10:00:00Z",
            "source_system": "test", **fields}  # fmt: skip


def touch(event_id: str, day: int, channel: str, **who: str) -> dict[str, Any]:
    return event("touch", event_id, day, channel=channel, **who)


HISTORY = [
    # L7 converts; its visitor cookie-1 is identified, and L8 is merged into it.
    event("lead_created", "c7", 5, lead_id="L7", origin="inbound"),
    event("stage_changed", "m7", 6, lead_id="L7", stage="mql"),
    event("stage_changed", "s7", 7, lead_id="L7", stage="sql"),
    event("deal_won", "w7", 20, lead_id="L7", deal_id="D7", amount="700", currency="EUR"),
    touch("t7", 4, "email", lead_id="L7"),
    touch("v1", 1, "paid_social", anonymous_id="cookie-1"),
    event("identify", "i1", 8, lead_id="L7", anonymous_id="cookie-1"),
    event("lead_created", "c8", 2, lead_id="L8", origin="inbound"),
    touch("t8", 3, "display", lead_id="L8"),
    event("merged", "g8", 9, lead_id="L8", into_lead_id="L7"),
    # L9 never converts; cookie-3 was identified as L9 and then unlinked.
    event("lead_created", "c9", 5, lead_id="L9", origin="inbound"),
    touch("t9", 4, "display", lead_id="L9"),
    touch("v3", 2, "paid_social", anonymous_id="cookie-3"),
    event("identify", "i3", 6, lead_id="L9", anonymous_id="cookie-3"),
    event("unlink", "u3", 7, lead_id="L9", anonymous_id="cookie-3"),
    # cookie-2 is never identified.
    touch("v2a", 1, "referral", anonymous_id="cookie-2"),
    touch("v2b", 2, "email", anonymous_id="cookie-2"),
]


@pytest.fixture
def ledger(database: Database, tmp_path: Path) -> Iterator[LedgerDB]:
    store, ledger = open_store(database), LedgerDB(database.ledger_url())
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in HISTORY), encoding="utf-8")
    tally = ingest_file(path, store, ledger)
    assert tally.dead_lettered == 0, tally.reasons
    project_from_store(store, ledger)
    yield ledger
    ledger.close()
    store.close()


def channels(journey: list[TouchPoint]) -> list[str]:
    return [t.channel for t in sorted(journey)]


def test_markov_is_fitted_on_every_journey_identified_or_not(ledger: LedgerDB) -> None:
    journeys = load_journeys(ledger, served(ledger), "deal_won")
    assert {v: channels(j) for v, j in journeys.visitors.items()} == {
        "cookie-2": ["referral", "email"],
        "cookie-3": ["paid_social"],
    }
    assert {lead: channels(j) for lead, j in journeys.fitted_on().items()} == {
        "L7": ["paid_social", "display", "email"],  # L8 is part of it, not a journey again
        "L9": ["display"],
    }
    credits, _ = credits_for(ledger, served(ledger), "markov", DEFAULTS)
    by_hand = attribute("markov", journeys.conversions,
                        {"L7": journeys.paths["L7"], "L9": journeys.paths["L9"]},
                        path_of=path_function(DEFAULTS),
                        visitors={"2": journeys.visitors["cookie-2"],
                                  "3": journeys.visitors["cookie-3"]})  # fmt: skip
    assert credits == by_hand
    identified_only = attribute("markov", journeys.conversions, journeys.paths,
                                path_of=path_function(DEFAULTS))  # fmt: skip
    assert [c.weight for c in credits] != [c.weight for c in identified_only]


def test_explain_lists_the_channels_global_markov_credits_off_the_path(
    ledger: LedgerDB,
) -> None:
    rules = Definitions.model_validate(
        {"attribution": {"models": {"markov": {"convention": "global"}}}}
    )
    [conversion] = load_journeys(ledger, served(ledger), "deal_won").conversions
    shown = explain(ledger, served(ledger), conversion.conversion_id, "markov", rules)
    assert shown["convention"] == "global"
    on_path = [(t["channel"], t["why"]) for t in shown["touches"]]
    assert on_path == [("paid_social", "on the path"), ("display", "on the path"),
                       ("email", "on the path")]  # fmt: skip
    # referral only ever led to email on cookie-2's journey, yet it shares the removal
    # effects, so the global convention gives it part of every conversion.
    [referral] = shown["channels_not_on_path"]
    assert referral["channel"] == "referral"
    assert float(referral["weight"]) > 0
    total = sum(float(t["value"]) for t in shown["touches"]) + float(referral["value"])
    assert total == pytest.approx(700)
    assert shown["unattributed"] is False
