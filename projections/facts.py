"""The facts fold: which rows each domain event adds to the facts read model.

Facts are what happened, whatever the definitions: touches, leads, identity links and
merges, spend and plan targets. Rows are keyed by the producer's idempotency key
(source_system, event_id), so a re-sent event (a relay restart, a second delivery path)
adds nothing: the store drops the duplicate row. Conversions depend on the
definitions (what makes an MQL), so the lifecycle fold makes them, per read model.
"""

from __future__ import annotations

from typing import Any, Literal

Table = Literal["leads", "touches", "spend", "targets", "links", "merges"]
Row = tuple[Table, dict[str, Any]]
TOUCH_FIELDS = ("channel", "source", "medium", "campaign", "content", "cost", "anonymous_id")
TIMES = ("source_system", "event_id", "occurred_at", "recorded_at")


def rows_for(event_type: str, record: dict[str, Any]) -> list[Row]:
    """The facts rows of one domain event; events that add nothing return []."""
    if event_type == "spend":
        spent = (*TIMES, "channel", "campaign", "day", "amount", "currency")
        return [("spend", {k: record[k] for k in spent})]
    if event_type == "plan_target":
        planned = (*TIMES, "period", "team", "amount", "currency")
        return [("targets", {k: record[k] for k in planned})]
    if event_type == "touch" and record["lead_id"] is None:  # a visitor's touch
        return [("touches", {k: record[k] for k in (*TIMES, "lead_id", *TOUCH_FIELDS)})]
    if "lead_id" not in record:
        return []
    common = {k: record[k] for k in (*TIMES, "lead_id")}
    match event_type:
        case "touch":
            return [("touches", common | {k: record[k] for k in TOUCH_FIELDS})]
        case "lead_created":
            return [("leads", common | {"origin": record["origin"], "segment": record["segment"]})]
        case "identify" | "unlink":
            linked = event_type == "identify"
            return [("links", common | {"anonymous_id": record["anonymous_id"], "linked": linked})]
        case "merged":
            return [("merges", common | {"into_lead_id": record["into_lead_id"]})]
    return []
