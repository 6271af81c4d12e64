"""A seeded synthetic data set: journeys of touches, leads, hand-overs and deals won or lost.

The same seed always gives the same file, so the demo's numbers are reproducible. A few
deliberate faults (a re-sent event, a deal for a lead that was never created, a line
that is not JSON) show that every record is accounted for.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CHANNELS = {
    # channel: (weight, source, medium)
    "paid_search": (30, "google", "cpc"),
    "paid_social": (20, "linkedin", "paid_social"),
    "organic_search": (20, "google", "organic"),
    "email": (15, "hubspot", "email"),
    "referral": (8, "partner_site", "referral"),
    "events": (7, "trade_show", "offline"),
}
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


REPS = {"emea": ("ana", "ben"), "na": ("cy", "dee")}
REASONS = ("no_budget", "not_icp", "too_early", "competitor_won", "other")
LOSSES = ("competitor_won", "competitor_won", "no_budget", "too_early", "no_response", "other")


def generate(leads: int = 200, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    extra = random.Random(seed * 7919 + 1)  # hand-over, spend, targets: a stream of their own
    deals = random.Random(seed * 104729 + 2)  # deal outcomes and loss reasons: another
    names = list(CHANNELS)
    weights = [CHANNELS[n][0] for n in names]
    records: list[dict[str, Any]] = []
    for i in range(1, leads + 1):
        first = len(records)
        lead_id = f"lead-{i:05d}"
        at = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
        for t in range(rng.randint(1, 5)):
            channel = rng.choices(names, weights)[0]
            _, source, medium = CHANNELS[channel]
            records.append(
                {
                    "type": "touch",
                    "event_id": f"{lead_id}-touch-{t}",
                    "lead_id": lead_id,
                    "occurred_at": at.isoformat(),
                    "source_system": "web_analytics",
                    "channel": channel,
                    "source": source,
                    "medium": medium,
                    "campaign": f"{channel}-q1",
                }
            )
            at += timedelta(hours=rng.randint(1, 96))
        if rng.random() < 0.7:
            records.append(
                {
                    "type": "lead_created",
                    "event_id": f"{lead_id}-created",
                    "lead_id": lead_id,
                    "occurred_at": at.isoformat(),
                    "source_system": "crm",
                    "origin": "inbound",
                    "segment": rng.choice(["smb", "mid_market", "enterprise"]),
                }
            )
            if rng.random() < 0.45:
                for stage in ("mql", "sql"):
                    at += timedelta(hours=rng.randint(1, 72))
                    records.append(
                        {
                            "type": "stage_changed",
                            "event_id": f"{lead_id}-{stage}",
                            "lead_id": lead_id,
                            "occurred_at": at.isoformat(),
                            "source_system": "crm",
                            "stage": stage,
                        }
                    )
            if records[-1]["type"] == "stage_changed" and rng.random() < 0.66:
                cycle = timedelta(days=rng.randint(10, 120))
                amount = str(rng.randrange(20, 400) * 50)
                records.extend(deal(lead_id, f"deal-{i:05d}", at, cycle, amount, deals))
        records[first:] = with_handover(records[first:], lead_id, extra)
    records.extend(spend_and_targets(extra))
    if records:
        records.append(dict(records[0]))  # a re-sent event: recognised as a duplicate
    records.append(
        {
            "type": "deal_won",
            "event_id": "orphan-won",
            "lead_id": "lead-never-created",
            "occurred_at": START.isoformat(),
            "source_system": "crm",
            "deal_id": "deal-orphan",
            "amount": "1000",
            "currency": "EUR",
        }
    )
    return records


def deal(
    lead_id: str, deal_id: str, sql: datetime, cycle: timedelta, amount: str, rng: random.Random
) -> list[dict[str, Any]]:
    """An opportunity and its deal, opened some way into its cycle and closed at its end:
    won 40% of the time, lost 45% (some of those recycled to nurture), the rest still open.
    Two SQLs in three get a deal, so about a quarter of SQLs end in a win (the B2B norm is
    20-30%)."""
    opened = sql + cycle * rng.uniform(0.1, 0.4)
    found = [_event("stage_changed", lead_id, opened, "opportunity", stage="opportunity")]
    found.append(_event("deal_opened", lead_id, opened + timedelta(minutes=10), "deal-opened",
                        deal_id=deal_id, amount=amount, currency="EUR"))  # fmt: skip
    outcome = rng.random()
    if outcome < 0.4:
        found.append(_event("deal_won", lead_id, sql + cycle, "won", deal_id=deal_id,
                            amount=amount, currency="EUR"))  # fmt: skip
    elif outcome < 0.85:
        reason = rng.choice(LOSSES)
        found.append(_event("deal_lost", lead_id, sql + cycle, "lost", deal_id=deal_id,
                            reason=reason))  # fmt: skip
        if rng.random() < 0.4:  # back to marketing's nurture, with the loss's tag
            found.append(_event("recycled", lead_id, sql + cycle + timedelta(days=14),
                                "recycled-lost", reason=reason))  # fmt: skip
    return found


def _event(kind: str, lead_id: str, at: datetime, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{lead_id}-{name}", "lead_id": lead_id,
            "occurred_at": at.isoformat(), "source_system": "crm", **fields}  # fmt: skip


def with_handover(
    journey: list[dict[str, Any]], lead_id: str, rng: random.Random
) -> list[dict[str, Any]]:
    """Add the sales side to one lead's journey: assignment, the answer to its MQL,
    contact attempts and the SQL confirmation; some MQLs are rejected (a few without a
    reason tag, a policy breach), some SQLs that never open a deal are disqualified (a few for
    no_response after too few attempts) and some come back as MQLs later; some leads that
    never became MQLs are recycled to nurture."""
    kinds = [(r["type"], r.get("stage")) for r in journey]
    if ("lead_created", None) not in kinds:
        return journey
    created = journey[kinds.index(("lead_created", None))]
    at = datetime.fromisoformat(created["occurred_at"])
    team = rng.choice(sorted(REPS))
    rep = rng.choice(REPS[team])
    added = [_event("assigned", lead_id, at + timedelta(minutes=5), "assigned", rep=rep, team=team)]
    if ("stage_changed", "mql") in kinds:
        mql = datetime.fromisoformat(journey[kinds.index(("stage_changed", "mql"))]["occurred_at"])
        sql = datetime.fromisoformat(journey[kinds.index(("stage_changed", "sql"))]["occurred_at"])
        gap = sql - mql
        added.append(_event("mql_accepted", lead_id, mql + gap * rng.uniform(0.05, 0.4),
                            "accepted", rep=rep))  # fmt: skip
        for n in range(rng.randint(1, 3)):
            added.append(_event("contact_attempted", lead_id,
                                mql + gap * rng.uniform(0.4 + 0.15 * n, 0.5 + 0.15 * n),
                                f"contact-{n}", method=rng.choice(["call", "email"]),
                                outcome="connected" if n else "no_answer"))  # fmt: skip
        added.append(_event("sql_confirmed", lead_id, sql + timedelta(hours=rng.uniform(0.5, 7)),
                            "confirmed", rep=rep))  # fmt: skip
        if ("deal_opened", None) not in kinds and rng.random() < 0.5:
            out = sql + timedelta(days=rng.uniform(2, 20))
            reason = rng.choice([*REASONS, "no_response"])
            added.append(_event("disqualified", lead_id, out, "disqualified", reason=reason))
            if rng.random() < 0.4:
                added.append(_event("stage_changed", lead_id, out + timedelta(days=30), "mql-2",
                                    stage="mql"))  # fmt: skip
    elif rng.random() < 0.4:
        mql = at + timedelta(hours=rng.randint(2, 48))
        added.append(_event("stage_changed", lead_id, mql, "mql", stage="mql"))
        tag: str | None = rng.choice(REASONS) if rng.random() < 0.9 else None
        added.append(_event("mql_rejected", lead_id, mql + timedelta(hours=rng.uniform(1, 14)),
                            "rejected", reason=tag))  # fmt: skip
    elif rng.random() < 0.3:
        added.append(_event("recycled", lead_id, at + timedelta(days=rng.randint(1, 20)),
                            "recycled", reason="too_early"))  # fmt: skip
    return sorted(journey + added, key=lambda r: r["occurred_at"])


def spend_and_targets(rng: random.Random) -> list[dict[str, Any]]:
    """Monthly spend per paid channel (reported on the first of the month), and targets."""
    found: list[dict[str, Any]] = []
    for month in range(1, 7):
        for channel in ("paid_search", "paid_social", "events"):
            day = datetime(2026, month, 1, tzinfo=UTC)
            found.append({"type": "spend", "event_id": f"spend-{channel}-{month}",
                          "occurred_at": day.isoformat(), "source_system": "ads",
                          "channel": channel, "campaign": f"{channel}-q1",
                          "day": day.date().isoformat(),
                          "amount": str(rng.randrange(20, 80) * 100),
                          "currency": "EUR"})  # fmt: skip
    for quarter, amount in (("2026-Q1", "250000"), ("2026-Q2", "300000")):
        found.append({"type": "plan_target", "event_id": f"target-{quarter}",
                      "occurred_at": "2026-01-01T00:00:00+00:00", "source_system": "finance",
                      "period": quarter, "team": None, "amount": amount,
                      "currency": "EUR"})  # fmt: skip
    return found


def write_jsonl(records: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
        handle.write("{this line is not json\n")
    return path
