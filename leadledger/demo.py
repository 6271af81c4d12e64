"""A seeded synthetic data set: journeys of touches, lead creations and won deals.

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


def generate(leads: int = 200, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names = list(CHANNELS)
    weights = [CHANNELS[n][0] for n in names]
    records: list[dict[str, Any]] = []
    for i in range(1, leads + 1):
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
                at += timedelta(days=rng.randint(10, 120))
                records.append(
                    {
                        "type": "deal_won",
                        "event_id": f"{lead_id}-won",
                        "lead_id": lead_id,
                        "occurred_at": at.isoformat(),
                        "source_system": "crm",
                        "deal_id": f"deal-{i:05d}",
                        "amount": str(rng.randrange(20, 400) * 50),
                        "currency": "EUR",
                    }
                )
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


def write_jsonl(records: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
        handle.write("{this line is not json\n")
    return path
