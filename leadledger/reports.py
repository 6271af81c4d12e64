"""Reports over the read models, as plain data ready for JSON, CSV or a table."""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from leadledger.domain.stream import as_utc
from leadledger.ledgerdb import LedgerDB, leads, links, merges, spend, touches
from leadledger.projections.attribution import (
    MODELS,
    UNATTRIBUTED,
    Conversion,
    Credit,
    TouchPoint,
    attribute,
    by_channel,
)
from leadledger.projections.definitions import Definitions, path_function
from leadledger.projections.lifecycle import COUNT
from leadledger.readmodels import ReadModel, states
from leadledger.sla_report import period_of

SPEND_KEY = operator.attrgetter("channel", "campaign", "day")  # one report per channel-day
MILESTONE_KINDS = {"lead": "lead", "opportunity": "opportunity", "pipeline": "opportunity"}


class UnknownConversion(ValueError):
    """A conversion id the read model does not hold."""


def decimal_text(value: Decimal) -> str:
    """Exact decimal text without exponent, at least two decimals: 1000.00, 2500.125."""
    text = f"{value.normalize():f}"
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


def weight_text(value: Decimal | Fraction) -> str:
    """A credit share or count as short exact text: 3, 0.5, 0.333333."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{value.quantize(Decimal('0.000001')).normalize():f}"


@dataclass(frozen=True)
class Journeys:
    """Everything attribution needs from the read model: each lead's path, the journeys of
    visitors linked to no lead (they never convert, but fitted models learn from them),
    and the conversions."""

    paths: dict[str, list[TouchPoint]]
    conversions: list[Conversion]
    visitors: dict[str, list[TouchPoint]] = field(default_factory=dict)
    merged: frozenset[str] = frozenset()
    """Leads merged into another: their touches are part of the survivor's journey."""

    def fitted_on(self) -> dict[str, list[TouchPoint]]:
        """The lead journeys algorithmic models learn from: every lead's, except a merged
        lead's that has no conversion here (its touches are in the survivor's journey, and
        would otherwise count twice, once as a journey that never converted)."""
        converted = {c.lead_id for c in self.conversions}
        return {
            lead: path
            for lead, path in self.paths.items()
            if lead not in self.merged or lead in converted
        }


def known(table: sa.Table, read_model: ReadModel) -> list[Any]:
    """Conditions on a facts table: only what the read model's bounds admit (what had
    been recorded by its as-of time, and had happened by its source-time bound)."""
    conditions = []
    if read_model.as_of is not None:
        conditions.append(table.c.recorded_at <= read_model.as_of)
    if read_model.occurred_before is not None:
        conditions.append(table.c.occurred_at <= read_model.occurred_before)
    return conditions


def facts(ledger: LedgerDB, table: sa.Table, read_model: ReadModel) -> list[sa.Row[Any]]:
    return ledger.select(table, *known(table, read_model))


def latest_facts(
    ledger: LedgerDB, table: sa.Table, read_model: ReadModel, key: Callable[[Any], Any]
) -> list[sa.Row[Any]]:
    """The latest row (by event time, then event id) of each ``key``: a re-reported day of
    spend, or a re-set target, replaces the earlier report."""
    latest: dict[Any, sa.Row[Any]] = {}
    rows = facts(ledger, table, read_model)
    for row in sorted(rows, key=lambda r: (as_utc(r.occurred_at), r.event_id)):
        latest[key(row)] = row
    return list(latest.values())


def stitched_paths(ledger: LedgerDB, read_model: ReadModel) -> dict[str, list[TouchPoint]]:
    """Each lead's touches, with those of the visitors linked to it and of the leads merged
    into it. Stitching happens here, at read time, so it is the same whatever order the
    identify, unlink, merge and touch events arrived in, and on whichever partitions."""
    return stitched_journeys(ledger, read_model)[0]


def stitched_journeys(
    ledger: LedgerDB, read_model: ReadModel
) -> tuple[dict[str, list[TouchPoint]], dict[str, list[TouchPoint]], frozenset[str]]:
    """Each lead's stitched path (see :func:`stitched_paths`); the touches of each visitor
    linked to no lead (never identified, or unlinked), journeys of their own; and the
    leads merged into another."""
    own: dict[str, list[TouchPoint]] = defaultdict(list)
    anonymous: dict[str, list[TouchPoint]] = defaultdict(list)
    for row in facts(ledger, touches, read_model):
        touch = TouchPoint(as_utc(row.occurred_at), row.event_id, row.channel, row.campaign,
                           row.source, row.medium)  # fmt: skip
        if row.lead_id is None:
            anonymous[row.anonymous_id].append(touch)
        else:
            own[row.lead_id].append(touch)
    linked: dict[tuple[str, str], bool] = {}  # (lead, visitor): the latest identify or unlink
    link_rows = facts(ledger, links, read_model)
    for row in sorted(link_rows, key=lambda r: (as_utc(r.occurred_at), r.event_id)):
        linked[(row.lead_id, row.anonymous_id)] = row.linked
    identified: set[str] = set()
    for (lead, visitor), is_linked in linked.items():
        if is_linked:
            own[lead].extend(anonymous.get(visitor, ()))
            identified.add(visitor)
    merged_into = {r.lead_id: r.into_lead_id for r in facts(ledger, merges, read_model)}
    paths: dict[str, list[TouchPoint]] = {lead: list(found) for lead, found in own.items()}
    for lead in merged_into:
        survivor, seen = merged_into[lead], {lead}
        while survivor in merged_into and survivor not in seen:  # a chain of merges
            seen.add(survivor)
            survivor = merged_into[survivor]
        paths.setdefault(survivor, []).extend(own.get(lead, ()))
    visitors = {v: found for v, found in anonymous.items() if v not in identified}
    return paths, visitors, frozenset(merged_into)


def load_journeys(ledger: LedgerDB, read_model: ReadModel, kind: str) -> Journeys:
    """The stitched paths, and the read model's conversions of ``kind`` with the milestones
    (lead creation, opportunity) that W- and Z-shaped models weigh."""
    paths, visitors, merged = stitched_journeys(ledger, read_model)
    chosen: list[Conversion] = []
    for state in states(ledger, read_model):
        milestones: dict[str, Any] = {}
        for earned in state.conversions:
            mark = MILESTONE_KINDS.get(earned.kind)
            if mark is not None and (mark not in milestones or earned.at < milestones[mark]):
                milestones[mark] = earned.at
        chosen.extend(
            Conversion(
                e.conversion_id,
                state.lead_id,
                as_utc(e.at),
                e.value,
                e.currency,
                e.kind,
                milestones,
            )
            for e in state.conversions
            if e.kind == kind
        )
    return Journeys(paths, sorted(chosen, key=lambda c: c.conversion_id), visitors, merged)


def credits_for(
    ledger: LedgerDB,
    read_model: ReadModel,
    model: str,
    definitions: Definitions,
    kind: str | None = None,
) -> tuple[list[Credit], Journeys]:
    journeys = load_journeys(ledger, read_model, kind or definitions.attribution.conversion)
    credits = attribute(
        model,
        journeys.conversions,
        journeys.fitted_on(),
        definitions.model_params(model),
        path_function(definitions),
        journeys.visitors,
    )
    return credits, journeys


def attribution_report(
    ledger: LedgerDB,
    read_model: ReadModel,
    model: str,
    definitions: Definitions,
    by: str = "channel",
    kind: str | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    """Credit per channel (or campaign, or source) under ``model`` and ``definitions``;
    with ``period`` (``2026-01`` or ``2026-Q1``) only for the conversions that happened in
    it (a fitted model is still fitted on every journey)."""
    credits, journeys = credits_for(ledger, read_model, model, definitions, kind)
    conversions = journeys.conversions
    if period is not None:
        length = "quarter" if "Q" in period else "month"
        conversions = [c for c in conversions if period_of(c.occurred_at, length) == period]
        kept = {c.conversion_id for c in conversions}
        credits = [c for c in credits if c.conversion_id in kept]
    return {
        "report": "attribution",
        "model": model,
        "conversion": kind or definitions.attribution.conversion,
        "by": by,
        **({"period": period} if period is not None else {}),
        "definitions": definitions.hash,
        "conversions": len(conversions),
        "credits": [
            {
                by: c.channel,
                "currency": c.currency,
                "conversions": weight_text(c.conversions),
                "value": weight_text(c.revenue) if c.currency == COUNT else decimal_text(c.revenue),
            }
            for c in by_channel(credits, by)
        ],
    }


def ledger_rows(
    credits: list[Credit], model: str, definitions: Definitions
) -> list[dict[str, str]]:
    """The credit ledger: one row per credit, with the model and the definitions' hash."""
    return [
        {
            "conversion_id": c.conversion_id,
            "touch_event_id": c.touch_event_id or "",
            "channel": c.channel,
            "campaign": c.campaign or "",
            "model": model,
            "definitions": definitions.hash,
            "weight": weight_text(c.weight),
            "value": decimal_text(c.value),
            "currency": c.currency,
        }
        for c in credits
    ]


def explain(
    ledger: LedgerDB,
    read_model: ReadModel,
    conversion_id: str,
    model: str,
    definitions: Definitions,
) -> dict[str, Any]:
    """One conversion's path, each touch's credit, and why those touches.

    Under Markov's global convention a conversion is split by the channels' shares of all
    removal effects, so channels with no touch on this path earn credit too: they are
    listed under ``channels_not_on_path``, and the credits still sum to the value.
    """
    kind = conversion_id.split(":", 1)[0]
    credits, journeys = credits_for(ledger, read_model, model, definitions, kind)
    conversion = next((c for c in journeys.conversions if c.conversion_id == conversion_id), None)
    if conversion is None:
        raise UnknownConversion(f"no conversion {conversion_id!r} in the read model")
    full_path = sorted(t for t in journeys.paths.get(conversion.lead_id, ()))
    own = [c for c in credits if c.conversion_id == conversion_id]
    mine = {c.touch_event_id: c for c in own if c.touch_event_id is not None}
    rows = []
    for touch in full_path:
        credit = mine.get(touch.event_id)
        if credit is not None:
            why = "on the path"
        elif touch.occurred_at > conversion.occurred_at:
            why = "after the conversion"
        else:
            why = "removed by the definitions' windows, filters or path transforms"
        rows.append({
            "touch_event_id": touch.event_id,
            "occurred_at": touch.occurred_at.isoformat(),
            "channel": touch.channel,
            "weight": weight_text(credit.weight) if credit else "0",
            "value": decimal_text(credit.value) if credit else "0.00",
            "why": why,
        })  # fmt: skip
    return {
        "conversion_id": conversion_id,
        "lead_id": conversion.lead_id,
        "occurred_at": conversion.occurred_at.isoformat(),
        "value": decimal_text(conversion.value),
        "currency": conversion.currency,
        "model": model,
        "convention": definitions.model_params(model).get(
            "convention", MODELS[model].defaults.get("convention")
        ),
        "definitions": definitions.hash,
        "touches": rows,
        "channels_not_on_path": [
            {
                "channel": c.channel,
                "weight": weight_text(c.weight),
                "value": decimal_text(c.value),
                "why": "global convention: its share of all removal effects, of every conversion",
            }
            for c in own
            if c.touch_event_id is None and c.channel != UNATTRIBUTED
        ],
        "unattributed": any(c.channel == UNATTRIBUTED for c in own),
    }


def spend_report(
    ledger: LedgerDB,
    read_model: ReadModel,
    model: str,
    definitions: Definitions,
    by: str = "channel",
) -> dict[str, Any]:
    """Spend beside attributed leads, MQLs, deals and revenue: CPL, cost per MQL and deal,
    and ROAS. A re-reported day of spend replaces the earlier report (latest event time)."""
    spent: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in latest_facts(ledger, spend, read_model, SPEND_KEY):
        group = row.channel if by == "channel" else (row.campaign or "(none)")
        spent[(group, row.currency)] += Decimal(row.amount)
    attributed: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for kind in ("lead", "mql", "deal_won"):
        found, _ = credits_for(ledger, read_model, model, definitions, kind)
        for credit in found:
            group = str(getattr(credit, by) or "(none)")
            share = Decimal(credit.weight.numerator) / Decimal(credit.weight.denominator)
            attributed[group][kind] += share
            if kind == "deal_won":
                revenue[(group, credit.currency)] += credit.value

    def per(cost: Decimal, count: Decimal) -> str | None:
        return decimal_text((cost / count).quantize(Decimal("0.01"))) if count else None

    rows = []
    for (group, currency), cost in sorted(spent.items()):
        counts = attributed[group]
        earned = revenue[(group, currency)]
        rows.append({
            by: group,
            "currency": currency,
            "spend": decimal_text(cost),
            "leads": weight_text(counts["lead"]),
            "mqls": weight_text(counts["mql"]),
            "deals": weight_text(counts["deal_won"]),
            "revenue": decimal_text(earned),
            "cost_per_lead": per(cost, counts["lead"]),
            "cost_per_mql": per(cost, counts["mql"]),
            "cost_per_deal": per(cost, counts["deal_won"]),
            "roas": weight_text(earned / cost) if cost else None,
        })  # fmt: skip
    return {"report": "spend", "model": model, "by": by, "definitions": definitions.hash,
            "rows": rows}  # fmt: skip


def summary(ledger: LedgerDB, read_model: ReadModel) -> dict[str, int]:
    won = sum(1 for s in states(ledger, read_model) for e in s.conversions if e.kind == "deal_won")
    return {"touches": ledger.count(touches), "leads": ledger.count(leads), "deals_won": won}
