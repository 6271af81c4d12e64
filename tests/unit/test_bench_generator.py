"""The benchmark's data generator: valid records of every type, in time order, seeded."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta

from bench.generator import generate
from leadledger.messages import INGEST_TYPES, parse_event

# Types the generator does not send: merges and unlinks are corrections, not traffic.
NOT_GENERATED = {"unlink", "merged"}


def test_a_sample_of_every_type_is_valid() -> None:
    by_type: dict[str, list[dict[str, object]]] = {}
    for record in generate(3000, seed=5):
        sample = by_type.setdefault(str(record["type"]), [])
        if len(sample) < 50:
            sample.append(record)
    assert set(by_type) == set(INGEST_TYPES) - NOT_GENERATED
    for records in by_type.values():
        for record in records:
            assert parse_event(record).type == record["type"]


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    assert list(generate(300, seed=3)) == list(generate(300, seed=3))
    assert list(generate(300, seed=3)) != list(generate(300, seed=4))


def test_events_are_interleaved_across_leads_in_time_order() -> None:
    records = list(generate(2000, seed=2))
    at = [datetime.fromisoformat(str(r["occurred_at"])) for r in records]
    late = [r for r, (a, b) in zip(records[1:], itertools.pairwise(at), strict=True) if b < a]
    # Only touches arrive late (ad platforms report in batches), by at most six hours.
    assert all(r["type"] == "touch" for r in late)
    assert len(late) < 0.05 * len(records)
    for previous, this in itertools.pairwise(at):
        assert this >= previous - timedelta(hours=6, minutes=1)
    leads = [r["lead_id"] for r in records if r.get("lead_id")]
    runs = 1 + sum(1 for a, b in itertools.pairwise(leads) if a != b)
    assert runs > 2 * len(set(leads)), "a lead's events are not sent in one block"


def test_funnel_rates_are_those_of_the_practice() -> None:
    kinds = Counter(f"{r['type']}:{r.get('stage', '')}" for r in generate(6000, seed=1))
    sqls = kinds["stage_changed:sql"] + kinds["lead_created:"] - kinds["identify:"]  # + outbound
    assert 0.35 <= kinds["stage_changed:sql"] / kinds["stage_changed:mql"] <= 0.6
    assert 0.2 <= kinds["deal_won:"] / sqls <= 0.3
    assert kinds["deal_lost:"] > 0
    assert kinds["mql_rejected:"] > 0
    assert kinds["purchase:"] > 0


def test_each_leads_funnel_facts_happen_in_the_order_they_are_sent() -> None:
    """What keeps the stream legal: a lead's facts (touches aside) never go back in time,
    so no fact can precede the one it needs (a deal closed before it was opened)."""
    last: dict[str, datetime] = {}
    for record in generate(20_000, seed=1):
        if record["type"] == "touch" or "lead_id" not in record:
            continue
        at = datetime.fromisoformat(str(record["occurred_at"]))
        lead = str(record["lead_id"])
        assert at >= last.get(lead, at), record
        last[lead] = at
