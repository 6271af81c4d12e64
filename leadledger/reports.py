"""Reports over the read models, as plain data ready for JSON, CSV or a table."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from leadledger.ledgerdb import LedgerDB, conversions, leads, touches
from leadledger.projections.attribution import (
    Conversion,
    TouchPoint,
    as_utc,
    attribute,
    by_channel,
)
from leadledger.projections.definitions import DEFAULTS, definitions_hash


def decimal_text(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros beyond cents."""
    text = f"{value.normalize():f}"
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


def weight_text(value: Decimal) -> str:
    """A credit count as short exact text: 3, 0.5, 1.3333."""
    return f"{value.quantize(Decimal('0.0001')).normalize():f}"


def attribution_report(ledger: LedgerDB, model: str) -> dict[str, Any]:
    """Credit per channel for won deals under ``model``, with the definitions hash."""
    paths: dict[str, list[TouchPoint]] = defaultdict(list)
    for row in ledger.select(touches):
        paths[row.lead_id].append(TouchPoint(as_utc(row.occurred_at), row.event_id, row.channel))
    convs = [
        Conversion(
            row.conversion_id,
            row.lead_id,
            as_utc(row.occurred_at),
            Decimal(row.value),
            row.currency,
        )
        for row in ledger.select(conversions)
        if row.kind == "deal_won"
    ]
    credits = attribute(model, convs, paths)
    return {
        "report": "attribution",
        "model": model,
        "conversion": DEFAULTS["attribution"]["conversion"],
        "definitions": definitions_hash(DEFAULTS),
        "conversions": len(convs),
        "credits": [
            {
                "channel": c.channel,
                "currency": c.currency,
                "conversions": weight_text(c.conversions),
                "revenue": decimal_text(c.revenue),
            }
            for c in by_channel(credits)
        ],
    }


def summary(ledger: LedgerDB) -> dict[str, int]:
    return {
        "touches": ledger.count(touches),
        "leads": ledger.count(leads),
        "deals_won": ledger.count(conversions),
    }
