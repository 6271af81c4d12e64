"""KPI measures and formulas: what is counted, and how KPIs are computed from the counts.

Measures are sums over leads (read off the lifecycle state) and over facts (touches,
spend, plan targets), each at the moment it happened. Formulas are expressions over
measures, constants and other formulas; the defaults follow the practice (see
ARCHITECTURE.md) and every one can be replaced in a definitions file. A formula whose
denominator is zero has no value (None), never an error.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simpleeval import InvalidExpression, SimpleEval

from leadledger.domain.funnel import Reason

if TYPE_CHECKING:
    from leadledger.projections.definitions import Kpi
    from leadledger.projections.lifecycle import LeadState

STAGES_TIMED = ("lead", "mql", "sql", "opportunity")

MEASURES: dict[str, str] = {
    "visits": "touches (online and offline)",
    "brand_visits": "touches on a brand channel (kpi.brand_channels)",
    "leads": "leads created",
    "mqls": "leads that became MQLs (first time, under funnel.mql)",
    "sqls": "leads that became SQLs (first time)",
    "opportunities": "leads that became opportunities (first time)",
    "new_customers": "leads whose first deal was won",
    "deals_won": "deals won",
    "deals_lost": "deals lost",
    "won_value": "amount of won deals (kpi.currency)",
    "repeat_revenue": "purchases after the deal: repeat, upsell, cross-sell, renewal",
    "expansion": "upsell and cross-sell purchases",
    "contraction": "contractions",
    "churned_arr": "won value plus expansion less contraction of customers who churned",
    "accepted": "MQLs accepted by sales",
    "rejected_mqls": "MQLs rejected by sales",
    "disqualified": "SQLs disqualified by sales",
    "rejections": "MQLs rejected plus SQLs disqualified",
    **{f"rejected_{r}": f"rejections with reason {r}" for r in Reason},
    "responses": "MQLs answered by sales (accepted, rejected, or moved to SQL)",
    "response_hours": "wall-clock hours from MQL to sales' answer, summed",
    "closed_deals": "deals closed (won or lost) of leads that reached SQL",
    "cycle_days": "days from SQL to close of those deals, summed",
    **{f"days_in_{s}": f"days spent in stage {s} before leaving it, summed" for s in STAGES_TIMED},
    **{f"exits_{s}": f"times a lead left stage {s}" for s in STAGES_TIMED},
    "marketing_cost": "spend on channels other than kpi.sales_cost_channels",
    "sales_cost": "spend on kpi.sales_cost_channels",
    "target": "plan targets (plan_target events) of the period",
}

DEFAULT_CONSTANTS: dict[str, float] = {
    "gross_margin": 1.0,  # profit per unit of revenue, for ROMI
    "lifetime_periods": 3.0,  # periods a customer stays, for LTV
    "repeat_purchases": 1.0,  # purchases per customer per period, for LTV
}

DEFAULT_FORMULAS: dict[str, str] = {
    "visit_to_lead": "leads / visits",
    "lead_to_mql": "mqls / leads",
    "mql_to_sql": "sqls / mqls",
    "sql_to_opportunity": "opportunities / sqls",
    "sql_to_deal": "new_customers / sqls",
    "win_rate": "deals_won / (deals_won + deals_lost)",
    "acv": "won_value / deals_won",
    "deal_cycle_days": "cycle_days / closed_deals",
    **{f"avg_days_in_{s}": f"days_in_{s} / exits_{s}" for s in STAGES_TIMED},
    "mql_response_hours": "response_hours / responses",
    "lead_quality": "accepted / (accepted + rejected_mqls)",
    **{f"rejection_share_{r}": f"rejected_{r} / rejections" for r in Reason},
    "revenue": "won_value + repeat_revenue",
    "cpl": "marketing_cost / leads",
    "cac": "(marketing_cost + sales_cost) / new_customers",
    "ltv": "revenue / new_customers * lifetime_periods * repeat_purchases",
    "ltv_to_cac": "ltv / cac",
    "romi_pct": "(revenue * gross_margin - marketing_cost) / marketing_cost * 100",
    "nrr_pct": "(won_value + expansion - contraction - churned_arr) / won_value * 100",
    "plan_attainment_pct": "won_value / target * 100",
    "brand_traffic_share": "brand_visits / visits",
}

Measure = tuple[str, datetime, Decimal]
ONE = Decimal(1)


def lead_measures(state: LeadState, kpi: Kpi) -> Iterator[Measure]:
    """Each measure a lead contributes, with the moment it happened."""
    if state.created_at is not None:
        yield "leads", state.created_at, ONE
    for step, measure in (("mql", "mqls"), ("sql", "sqls"), ("opportunity", "opportunities"),
                          ("won", "new_customers")):  # fmt: skip
        if step in state.first:
            yield measure, state.first[step], ONE
    for cycle in state.cycles:
        answer = cycle.stops.get("mql_response")
        if cycle.mql_at is None or answer is None:
            continue  # an answer to a lead that is no MQL under these definitions
        yield "responses", answer.at, ONE
        hours = max((answer.at - cycle.mql_at).total_seconds(), 0.0) / 3600
        yield "response_hours", answer.at, Decimal(str(round(hours, 6)))
        if cycle.response == "accepted":
            yield "accepted", answer.at, ONE
    for rejection in state.rejections:
        counted = "rejected_mqls" if rejection.kind == "mql_rejected" else "disqualified"
        yield counted, rejection.at, ONE
        yield "rejections", rejection.at, ONE
        yield f"rejected_{rejection.reason}", rejection.at, ONE
    won_total = expansion = contraction = Decimal(0)
    for deal in state.deals.values():
        if deal.closed_at is None:
            continue
        yield ("deals_won" if deal.status == "won" else "deals_lost"), deal.closed_at, ONE
        if deal.status == "won" and deal.currency == kpi.currency and deal.amount is not None:
            yield "won_value", deal.closed_at, deal.amount
            won_total += deal.amount
        if "sql" in state.first:
            yield "closed_deals", deal.closed_at, ONE
            days = max((deal.closed_at - state.first["sql"]).total_seconds(), 0.0) / 86400
            yield "cycle_days", deal.closed_at, Decimal(str(round(days, 6)))
    for payment in state.payments:
        if payment.currency != kpi.currency:
            continue
        if payment.kind == "contraction":
            contraction += payment.amount
            yield "contraction", payment.at, payment.amount
            continue
        yield "repeat_revenue", payment.at, payment.amount
        if payment.kind in ("upsell", "cross_sell"):
            expansion += payment.amount
            yield "expansion", payment.at, payment.amount
    if state.churned_at is not None:
        yield "churned_arr", state.churned_at, won_total + expansion - contraction
    for spell in state.spells:
        if spell.stage in STAGES_TIMED:
            days = max((spell.left - spell.entered).total_seconds(), 0.0) / 86400
            yield f"days_in_{spell.stage}", spell.left, Decimal(str(round(days, 6)))
            yield f"exits_{spell.stage}", spell.left, ONE


class _DecimalEval(SimpleEval):  # type: ignore[misc]
    """simpleeval, with number literals as Decimals so money stays exact."""

    def __init__(self, names: dict[str, Any]) -> None:
        super().__init__(names=names, functions={})
        self.nodes[ast.Constant] = self._decimal_constant

    @staticmethod
    def _decimal_constant(node: ast.Constant) -> Any:
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return Decimal(str(node.value))
        raise ValueError(f"formulas use numbers and names only, not {node.value!r}")


def check(text: str, names: set[str]) -> None:
    """Raise ValueError unless ``text`` evaluates with ``names`` (all set to one): catches
    function calls, strings and other forms the evaluator refuses, when definitions load."""
    try:
        _DecimalEval(dict.fromkeys(names, ONE)).eval(text)
    except (InvalidExpression, ValueError) as exc:
        raise ValueError(str(exc)) from None
    except (ArithmeticError, TypeError):
        pass  # a value problem, not a form problem: reports show no value


def evaluate(measures: dict[str, Decimal], kpi: Kpi) -> dict[str, Decimal | None]:
    """Every formula of ``kpi`` over ``measures`` (missing measures are 0)."""
    names: dict[str, Any] = {name: measures.get(name, Decimal(0)) for name in MEASURES}
    names |= {name: Decimal(str(value)) for name, value in kpi.constants.items()}
    results: dict[str, Decimal | None] = {}
    for name in kpi.formula_order:
        try:
            value = _DecimalEval(names).eval(kpi.formulas[name])
        except (ZeroDivisionError, TypeError, ArithmeticError):
            value = None  # no value: a zero denominator, or a formula using one without
        results[name] = value
        names[name] = value
    return results
