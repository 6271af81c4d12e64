"""The journey fold: which rows each domain event adds to the journey read model.

A journey is a lead's touches and conversions. Rows are keyed by the event id, so a
re-sent event (a relay restart) adds nothing: the store drops the duplicate row.
"""

from __future__ import annotations

from typing import Any, Literal

Table = Literal["leads", "touches", "conversions"]
Row = tuple[Table, dict[str, Any]]


def rows_for(event_type: str, record: dict[str, Any]) -> list[Row]:
    """The read-model rows of one domain event; events that add nothing return []."""
    if event_type not in ("touch", "lead_created", "deal_won"):
        return []
    common = {
        "event_id": record["event_id"],
        "lead_id": record["lead_id"],
        "occurred_at": record["occurred_at"],
        "recorded_at": record["recorded_at"],
    }
    if event_type == "touch":
        return [
            (
                "touches",
                common
                | {k: record[k] for k in ("channel", "source", "medium", "campaign", "content")}
                | {"cost": record["cost"]},
            )
        ]
    if event_type == "lead_created":
        return [("leads", common | {"origin": record["origin"], "segment": record["segment"]})]
    if event_type == "deal_won":
        return [
            (
                "conversions",
                common
                | {
                    "kind": "deal_won",
                    "conversion_id": f"deal:{record['deal_id']}",
                    "value": record["amount"],
                    "currency": record["currency"],
                },
            )
        ]
    return []
