"""KPI measures and formulas: what is counted, and how KPIs are computed from the counts.

Measures are sums over leads (read off the lifecycle state) and over facts (touches,
spend, plan targets), each at the moment it happened. Sums are exact (Fractions) and
rounded once, before the formulas. Formulas are expressions over
measures, constants and other formulas; the defaults follow the practice (see
ARCHITECTURE.md) and every one can be replaced in a definitions file. A formula whose
denominator is zero has no value (None), never an error.
"""

from __future__ import annotations

import ast
import math
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from simpleeval import InvalidExpression, SimpleEval

from leadledger.domain.funnel import Reason

if TYPE_CHECKING:
    from leadledger.projections.definitions import Kpi
    from leadledger.projections.lifecycle import Deal, LeadState

STAGES_TIMED = ("lead", "mql", "sql", "opportunity")
EXPANSION = ("upsell", "cross_sell")  # purchases that grow ARR; repeats and renewals keep it

MEASURES: dict[str, str] = {
    "visits": "touches (online and offline)",
    "brand_visits": "touches on a brand channel (kpi.brand_channels)",
    "leads": "leads created",
    "mqls": "leads that became MQLs (first time, under funnel.mql)",
    "sqls": "leads that became SQLs (first time)",
    "opportunities": "leads that became opportunities (first time)",
    "new_customers": "leads at their first won deal (not again at a win-back)",
    "deals_won": "deals won (in kpi.currency: other currencies are left out, see left_out)",
    "deals_lost": "deals lost (in kpi.currency, or with no amount)",
    "won_value": "amount of won deals (kpi.currency)",
    "repeat_revenue": "purchases after the deal: repeat, upsell, cross-sell, renewal",
    "expansion": "upsell and cross-sell purchases",
    "contraction": "contractions",
    "churned_arr": "ARR at each churn, booked at the churn (see arr_at_churns)",
    "accepted": "MQLs accepted by sales (the cycle's first verdict)",
    "rejected_mqls": "MQLs rejected by sales (the cycle's first verdict)",
    "disqualified": "SQLs disqualified by sales",
    "rejections": "MQLs rejected plus SQLs disqualified",
    **{f"rejected_{r}": f"rejections with reason {r}" for r in Reason},
    "responses": "MQLs answered by sales (accepted, rejected, or moved to SQL)",
    "response_hours": "wall-clock hours from MQL to sales' answer, summed",
    "closed_deals": "deals closed (won or lost) that came from an SQL",
    "cycle_days": "days from the deal's own SQL (its cycle's) to its close, summed",
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

Measure = tuple[str, datetime, Fraction]
LeftOut = tuple[str, datetime, str, Decimal | None]  # kind, when, currency, amount
ONE = Decimal(1)
UNIT = Fraction(1)  # one of a counted measure
MICROSECONDS_PER_DAY = 86_400_000_000
MICROSECONDS_PER_HOUR = 3_600_000_000


def lead_measures(state: LeadState, kpi: Kpi) -> Iterator[Measure]:
    """Each measure a lead contributes, with the moment it happened.

    Values are exact (Fractions): durations are not rounded per lead, so a sum over many
    leads is rounded once, when it is shown. Money in a currency other than
    ``kpi.currency`` is left out together with the counts that go with it (see
    :func:`left_out`), so ACV, win rate, CAC and LTV divide like by like.
    """
    if state.created_at is not None:
        yield "leads", state.created_at, UNIT
    for step, measure in (("mql", "mqls"), ("sql", "sqls"), ("opportunity", "opportunities")):
        if step in state.first:
            yield measure, state.first[step], UNIT
    first_win = _first_win(state)
    if first_win is not None and _counted(first_win[1], kpi):
        yield "new_customers", first_win[0], UNIT
    for cycle in state.cycles:
        answer = cycle.stops.get("mql_response")
        if cycle.mql_at is None or answer is None:
            continue  # an answer to a lead that is no MQL under these definitions
        yield "responses", answer.at, UNIT
        yield "response_hours", answer.at, _elapsed(cycle.mql_at, answer.at, MICROSECONDS_PER_HOUR)
        if cycle.response == "accepted":  # the first verdict: a later rejection is no second
            yield "accepted", answer.at, UNIT
        elif cycle.response == "rejected":
            yield "rejected_mqls", answer.at, UNIT
    for rejection in state.rejections:
        if rejection.kind != "mql_rejected":
            yield "disqualified", rejection.at, UNIT
        yield "rejections", rejection.at, UNIT
        yield f"rejected_{rejection.reason or 'none'}", rejection.at, UNIT
    for deal in state.deals.values():
        if deal.closed_at is None or not _counted(deal.currency, kpi):
            continue
        yield ("deals_won" if deal.status == "won" else "deals_lost"), deal.closed_at, UNIT
        if deal.status == "won" and deal.amount is not None:
            yield "won_value", deal.closed_at, Fraction(deal.amount)
        sql_at = _deal_sql(state, deal)
        if sql_at is not None:
            yield "closed_deals", deal.closed_at, UNIT
            yield "cycle_days", deal.closed_at, _elapsed(sql_at, deal.closed_at)
    for payment in state.payments:
        if not _counted(payment.currency, kpi):
            continue
        if payment.kind == "contraction":
            yield "contraction", payment.at, Fraction(payment.amount)
            continue
        yield "repeat_revenue", payment.at, Fraction(payment.amount)
        if payment.kind in EXPANSION:
            yield "expansion", payment.at, Fraction(payment.amount)
    for churned_at, arr in arr_at_churns(state, kpi):
        yield "churned_arr", churned_at, arr
    for spell in state.spells:
        if spell.stage in STAGES_TIMED:
            yield f"days_in_{spell.stage}", spell.left, _elapsed(spell.entered, spell.left)
            yield f"exits_{spell.stage}", spell.left, UNIT


def arr_at_churns(state: LeadState, kpi: Kpi) -> list[tuple[datetime, Fraction]]:
    """Each churn of the lead with its ARR at churn, booked at the churn itself.

    ARR at churn is the value the customer held when it left: deals won, plus upsell and
    cross-sell purchases, less contractions, in ``kpi.currency``, dated after the
    previous churn (or from the lead's start) up to and including this churn. A win-back
    starts from nothing, because what the customer held before was lost, and booked, at
    the earlier churn. Repeat purchases and renewals keep the ARR, they do not change it.
    Nothing dated after a churn changes its ARR, so a win-back never rewrites the period
    of an earlier churn; a fact dated before the churn (a late contraction) does.
    The ARR is not floored at zero: contractions beyond it show, rather than hide, bad
    data.
    """
    changes = [
        (deal.closed_at, Fraction(deal.amount))
        for deal in state.deals.values()
        if deal.status == "won" and deal.closed_at and deal.amount is not None
        and _counted(deal.currency, kpi)
    ]  # fmt: skip
    changes += [
        (payment.at, Fraction(-payment.amount if payment.kind == "contraction" else payment.amount))
        for payment in state.payments
        if _counted(payment.currency, kpi) and payment.kind in ("contraction", *EXPANSION)
    ]
    booked: list[tuple[datetime, Fraction]] = []
    previous: datetime | None = None
    # A state folded before the fold kept every churn has only the last one.
    for churned_at in sorted(state.churns or ([state.churned_at] if state.churned_at else [])):
        held = (v for at, v in changes if (previous is None or at > previous) and at <= churned_at)
        booked.append((churned_at, sum(held, Fraction(0))))
        previous = churned_at
    return booked


def left_out(state: LeadState, kpi: Kpi) -> Iterator[LeftOut]:
    """What :func:`lead_measures` leaves out for its currency, so a report can say so.

    A deal in another currency is left out of every deal measure (won, lost, won value,
    cycle length), and a lead whose first win is in another currency is no new customer
    in the report; purchases and contractions in another currency are left out of
    revenue, expansion, contraction and ARR at churn.
    """
    first_win = _first_win(state)
    if first_win is not None and first_win[1] is not None and not _counted(first_win[1], kpi):
        yield "new_customer", first_win[0], first_win[1], None
    for deal in state.deals.values():
        if deal.closed_at is not None and deal.currency and not _counted(deal.currency, kpi):
            kind = "deal_won" if deal.status == "won" else "deal_lost"
            yield kind, deal.closed_at, deal.currency, deal.amount
    for payment in state.payments:
        if not _counted(payment.currency, kpi):
            kind = "contraction" if payment.kind == "contraction" else "purchase"
            yield kind, payment.at, payment.currency, payment.amount


def _counted(currency: str | None, kpi: Kpi) -> bool:
    """Money in the report's currency, or no money at all (a deal lost before it had one)."""
    return currency is None or currency == kpi.currency


def _first_win(state: LeadState) -> tuple[datetime, str | None] | None:
    """When the lead's first deal was won, and in which currency: it made a new customer."""
    won = [(d.closed_at, d.currency) for d in state.deals.values()
           if d.status == "won" and d.closed_at is not None]  # fmt: skip
    return min(won, key=lambda w: w[0], default=None)


def _deal_sql(state: LeadState, deal: Deal) -> datetime | None:
    """The SQL a deal came from: that of the cycle it was opened in, which the fold records
    on the deal. For a state folded before deals recorded it, the latest SQL at or before
    the deal opened (or closed) is the same moment."""
    if deal.sql_at is not None:
        return deal.sql_at
    when = deal.opened_at or deal.closed_at
    if when is None:
        return None
    sqls = [c.sql_at for c in state.cycles if c.sql_at is not None and c.sql_at <= when]
    return max(sqls, default=None)


def _elapsed(start: datetime, end: datetime, unit: int = MICROSECONDS_PER_DAY) -> Fraction:
    """Time from ``start`` to ``end`` (none if negative) in days or hours, exactly."""
    return Fraction(max((end - start) // timedelta(microseconds=1), 0), unit)


def rounded_once(sums: Mapping[str, Fraction]) -> dict[str, Decimal]:
    """Exact sums of measures as Decimals of the context's precision (28 digits): the one rounding a
    sum gets before the formulas; reports round again only for display."""
    return {name: Decimal(v.numerator) / Decimal(v.denominator) for name, v in sums.items()}


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


_PARSING = threading.Lock()
"""Formulas are parsed one at a time. CPython 3.11 keeps the AST constructor's recursion
depth per interpreter, not per thread, so two threads parsing at once (the API answers
requests from a thread pool) can fail with "SystemError: AST constructor recursion depth
mismatch" (python/cpython#106905)."""


class _DecimalEval(SimpleEval):  # type: ignore[misc]
    """simpleeval, with number literals as Decimals so money stays exact."""

    def parse(self, expr: str) -> ast.AST:
        with _PARSING:
            return super().parse(expr)  # type: ignore[no-any-return]

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
        with _PARSING:
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
