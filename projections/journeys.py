"""The journey fold: which rows each domain event adds to the journey read model.

A journey is a lead's touches, its creation, and its conversions: each funnel step that can
earn credit (lead, MQL, SQL, opportunity as counts; pipeline, won deals and later
purchases as money). Rows are keyed by the event id, so a re-sent event (a relay restart)
adds nothing: the store drops the duplicate row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

Table = Literal["leads", "touches", "conversions", "spend", "links", "merges"]
Row = tuple[Table, dict[str, Any]]
COUNT = "count"  # the unit of conversions that are counted, not valued in money
CONVERSION_KINDS = ("lead", "mql", "sql", "opportunity", "pipeline", "deal_won", "purchase")
TOUCH_FIELDS = ("channel", "source", "medium", "campaign", "content", "cost", "anonymous_id")


def rows_for(event_type: str, record: dict[str, Any]) -> list[Row]:
    """The read-model rows of one domain event; events that add nothing return []."""
    if event_type == "spend":
        spend_fields = ("event_id", "occurred_at", "recorded_at", "channel", "campaign", "day")
        spend = {k: record[k] for k in (*spend_fields, "amount", "currency")}
        return [("spend", spend)]
    if event_type == "touch" and record["lead_id"] is None:  # a visitor's touch
        touch_fields = ("event_id", "lead_id", "occurred_at", "recorded_at", *TOUCH_FIELDS)
        return [("touches", {k: record[k] for k in touch_fields})]
    if "lead_id" not in record:
        return []
    common = {
        "event_id": record["event_id"],
        "lead_id": record["lead_id"],
        "occurred_at": record["occurred_at"],
        "recorded_at": record["recorded_at"],
    }

    def conversion(kind: str, value: Decimal, unit: str) -> Row:
        return "conversions", common | {
            "kind": kind,
            "conversion_id": f"{kind}:{record['event_id']}",
            "value": value,
            "currency": unit,
        }

    match event_type:
        case "touch":
            return [("touches", common | {k: record[k] for k in TOUCH_FIELDS})]
        case "lead_created":
            lead: Row = (
                "leads",
                common | {"origin": record["origin"], "segment": record["segment"]},
            )
            return [lead, conversion("lead", Decimal(1), COUNT)]
        case "identify" | "unlink":
            linked = event_type == "identify"
            return [("links", common | {"anonymous_id": record["anonymous_id"], "linked": linked})]
        case "merged":
            return [("merges", common | {"into_lead_id": record["into_lead_id"]})]
        case "stage_changed":
            return [conversion(record["stage"], Decimal(1), COUNT)]
        case "deal_opened":
            return [
                conversion("pipeline", record["amount"] or Decimal(0), record["currency"] or COUNT)
            ]
        case "deal_won":
            return [conversion("deal_won", record["amount"], record["currency"])]
        case "purchase":
            return [conversion("purchase", record["amount"], record["currency"])]
    return []
