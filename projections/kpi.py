"""KPI measures and formulas: what is counted, and how KPIs are computed from the counts.

Measures are sums over leads (read off the lifecycle state) and over facts (touches,
spend, plan targets), each at the moment it happened. Formulas are expressions over
measures, constants and other formulas; the defaults follow the practice (see
ARCHITECTURE.md) and every one can be replaced in a definitions file. A formula whose
denominator is zero has no value (None), never an error.
"""

from __future__ import annotations

import ast
import math
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


# The formula sandbox. A KPI is a number, so a formula is arithmetic on numbers and names
# and nothing else: simpleeval alone would also accept comparisons, boolean operators and
# method calls on the Decimals (``leads.exp()``), whose values are not numbers and crash a
# report. Checked when definitions load, so a report never meets one.

MAX_FORMULA_CHARS = 500
"""Longer formulas are refused before they are parsed: parsing and evaluation recurse."""
MAX_FORMULA_NODES = 200
"""Syntax-tree nodes (names, numbers, operators) one formula may have."""
MAX_EXPONENT = 10
"""``**`` takes a number literal between -10 and 10 as its exponent, e.g. ``(x / y) ** 0.5``
or ``x ** 2``; a name or formula as exponent could make any number from any other."""

_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.UAdd, ast.USub)
_PLAIN = (ast.Expression, ast.Name, ast.Load, *_OPERATORS)
ARITHMETIC = "formulas use numbers, names, + - * /, ** with a number exponent, and parentheses"


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


def parse(text: str) -> ast.Expression:
    """The syntax tree of formula ``text``, within the size limits; ValueError otherwise,
    with a message that reads after the formula's name ("formula 'x' ...")."""
    if len(text) > MAX_FORMULA_CHARS:
        raise ValueError(f"is {len(text)} characters long; at most {MAX_FORMULA_CHARS} are allowed")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError(f"is not an expression: {text!r}") from None
    size = sum(1 for _ in ast.walk(tree))
    if size > MAX_FORMULA_NODES:
        raise ValueError(f"has {size} terms and operators; at most {MAX_FORMULA_NODES}")
    return tree


def _refused(node: ast.AST) -> str | None:
    """Why ``node`` has no place in a formula, or None if it has."""
    if isinstance(node, _PLAIN):
        return None
    shown = repr(ast.unparse(node))
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float) or isinstance(node.value, bool):
            return f"formulas use numbers and names only, not {node.value!r}"
        finite = isinstance(node.value, int) or math.isfinite(node.value)
        return None if finite else f"the number {shown} is not finite"
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        if not isinstance(node.op, _OPERATORS):
            return f"{shown} uses an operator formulas do not have; {ARITHMETIC}"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub | ast.UAdd):
                exponent = exponent.operand
            value = exponent.value if isinstance(exponent, ast.Constant) else None
            if not isinstance(value, int | float) or abs(value) > MAX_EXPONENT:
                return (
                    f"{shown}: the exponent of ** must be a number from -{MAX_EXPONENT} "
                    f"to {MAX_EXPONENT}"
                )
        return None
    if isinstance(node, ast.Compare):
        return f"{shown} is a comparison (true or false), not a number"
    if isinstance(node, ast.BoolOp):
        return f"{shown} uses and/or, which give no number"
    if isinstance(node, ast.Call):
        return f"{shown} calls a function or method; formulas have none"
    if isinstance(node, ast.Attribute):
        return f"{shown} reads an attribute; formulas use plain names"
    return f"{shown} is not arithmetic; {ARITHMETIC}"


def check(text: str, names: set[str]) -> None:
    """Raise ValueError unless ``text`` is arithmetic that yields a number with ``names``
    (all set to one): run when definitions load, so a report never meets a formula that
    is a comparison, a method call, or otherwise no number."""
    tree = parse(text)
    for node in ast.walk(tree):
        if (why := _refused(node)) is not None:
            raise ValueError(why)
    try:
        value = _DecimalEval(dict.fromkeys(names, ONE)).eval(text)
    except (InvalidExpression, ValueError) as exc:
        raise ValueError(str(exc)) from None
    except (ArithmeticError, TypeError):
        return  # a value problem, not a form problem: reports show no value
    if not isinstance(value, Decimal):
        raise ValueError(f"gives {type(value).__name__}, not a number")


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
        if not isinstance(value, Decimal) or not value.is_finite():
            value = None  # never reached by formulas that loaded; a guard, not a rule
        results[name] = value
        names[name] = value
    return results
