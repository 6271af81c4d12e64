"""The KPI report: measures summed per period and group, and the definitions' formulas.

Lead measures come from the read model's lifecycle states; visits, spend and targets from
the facts, within the read model's bounds. ``basis`` says which period a lead's measures
fall in: ``cohort`` (the month or quarter the lead was created: funnel conversion by
cohort) or ``activity`` (the period each step happened: what a month's team did).
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from leadledger.domain.stream import as_utc
from leadledger.ledgerdb import LedgerDB, spend, targets, touches
from leadledger.projections.kpi import evaluate, lead_measures, left_out, rounded_once
from leadledger.readmodels import ReadModel, states
from leadledger.reports import SPEND_KEY, facts, latest_facts, stitched_paths
from leadledger.sla_report import period_of

TARGET_KEY = operator.attrgetter("period", "team")  # one target per period and team
GROUPS = ("all", "channel", "campaign", "segment", "team")
NONE = "(none)"
CURRENCY_RULE = (
    "money in a currency other than {currency} is left out, with the counts that go with it "
    "(a deal from deals won or lost, a lead whose first win it was from new customers); "
    "each row's left_out lists it"
)


@dataclass(slots=True)
class LeftOut:
    """Facts of one kind and currency a report row leaves out, counted and summed."""

    count: int = 0
    amount: Decimal | None = None  # none for what is only counted (a new customer)

    def add(self, amount: Decimal | None) -> None:
        self.count += 1
        if amount is not None:
            self.amount = (self.amount or Decimal(0)) + amount


def _target_periods(label: str, period: str) -> str | None:
    """The report period a plan target's period counts in: ``2026-02`` counts in
    ``2026-Q1`` by quarter; a quarterly target cannot be split into months."""
    year, _, part = label.partition("-")
    if part.startswith("Q"):
        return label if period == "quarter" else None
    if period == "quarter" and part.isdigit():
        return f"{year}-Q{(int(part) - 1) // 3 + 1}"
    return label


def kpi_report(
    ledger: LedgerDB,
    read_model: ReadModel,
    by: str = "all",
    period: str = "month",
    basis: str = "cohort",
) -> dict[str, Any]:
    kpi = read_model.definitions.kpi
    sums: dict[tuple[str, str], dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    # (period, group) -> (what, currency) -> how many and how much: money not in kpi.currency
    omitted: dict[tuple[str, str], dict[tuple[str, str], LeftOut]] = defaultdict(
        lambda: defaultdict(LeftOut)
    )

    def leave_out(label: str, group: str, what: str, currency: str, amount: Decimal | None) -> None:
        omitted[(label, group)][(what, currency)].add(amount)

    first_touch: dict[str, str | None] = {}
    if by in ("channel", "campaign"):
        for lead, path in stitched_paths(ledger, read_model).items():
            if path:
                touch = min(path)  # touch points order by time, then event id
                first_touch[lead] = touch.channel if by == "channel" else touch.campaign
    for state in states(ledger, read_model):
        group = {"all": "all", "segment": state.segment, "team": state.team,
                 "channel": first_touch.get(state.lead_id),
                 "campaign": first_touch.get(state.lead_id)}[by] or NONE  # fmt: skip
        for measure, at, value in lead_measures(state, kpi):
            moment = state.created_at if basis == "cohort" and state.created_at else at
            sums[(period_of(moment, period), group)][measure] += value
        for what, at, currency, amount in left_out(state, kpi):
            moment = state.created_at if basis == "cohort" and state.created_at else at
            leave_out(period_of(moment, period), group, what, currency, amount)
    for visit in facts(ledger, touches, read_model):
        seen = {"all": "all", "channel": visit.channel, "campaign": visit.campaign}.get(by)
        key = (period_of(as_utc(visit.occurred_at), period), seen or NONE)
        sums[key]["visits"] += 1
        if visit.channel in kpi.brand_channels:
            sums[key]["brand_visits"] += 1
    for row in latest_facts(ledger, spend, read_model, SPEND_KEY):
        spent_on = {"all": "all", "channel": row.channel, "campaign": row.campaign}.get(by)
        if row.currency != kpi.currency:
            spent_in = period_of(row.day, period)
            leave_out(spent_in, spent_on or NONE, "spend", row.currency, Decimal(row.amount))
            continue
        cost = "sales_cost" if row.channel in kpi.sales_cost_channels else "marketing_cost"
        sums[(period_of(row.day, period), spent_on or NONE)][cost] += Fraction(row.amount)
    for row in latest_facts(ledger, targets, read_model, TARGET_KEY):
        label = _target_periods(row.period, period)
        if label is None:
            continue
        planned_for = {"all": "all", "team": row.team}.get(by)
        if row.currency != kpi.currency:
            leave_out(label, planned_for or NONE, "target", row.currency, Decimal(row.amount))
            continue
        sums[(label, planned_for or NONE)]["target"] += Fraction(row.amount)
    report_rows = []
    for key in sorted(sums.keys() | omitted.keys()):
        label, group = key
        measures = rounded_once(sums[key])
        values = evaluate(measures, kpi)
        report_rows.append({
            "period": label,
            by: group,
            "measures": {k: _number(v) for k, v in sorted(measures.items()) if v},
            "kpis": {k: None if v is None else _number(v) for k, v in sorted(values.items())},
            "left_out": [
                {"kind": what, "currency": currency, "count": out.count,
                 "amount": None if out.amount is None else _number(out.amount)}
                for (what, currency), out in sorted(omitted[key].items())
            ],
        })  # fmt: skip
    return {
        "report": "kpi",
        "definitions": read_model.definitions.hash,
        "by": by,
        "period": period,
        "basis": basis,
        "currency": kpi.currency,
        "currency_rule": CURRENCY_RULE.format(currency=kpi.currency),
        "rows": report_rows,
    }


def _number(value: Decimal) -> str:
    """Four decimals at most, no exponent, no trailing zeros: 0.25, 1234.5, 3."""
    text = f"{value.quantize(Decimal('0.0001')).normalize():f}"
    return "0" if text in ("-0", "") else text
