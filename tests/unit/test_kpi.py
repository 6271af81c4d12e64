"""KPI formulas and measures, hand-computed."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from leadledger.projections.definitions import Definitions, DefinitionsError, load
from leadledger.projections.kpi import DEFAULT_FORMULAS, MEASURES, evaluate, lead_measures
from tests.unit.test_sla import HANDOVER, Step, play

MEASURED = {
    "visits": 200, "brand_visits": 50, "leads": 40, "mqls": 20, "sqls": 10,
    "opportunities": 8, "new_customers": 4, "deals_won": 4, "deals_lost": 6,
    "won_value": 100000, "repeat_revenue": 20000, "expansion": 15000, "contraction": 5000,
    "churned_arr": 10000, "accepted": 15, "rejected_mqls": 5, "disqualified": 3,
    "rejections": 8, "rejected_no_budget": 2, "rejected_not_icp": 3, "rejected_too_early": 1,
    "rejected_competitor_won": 0, "rejected_no_response": 2, "rejected_other": 0,
    "responses": 20, "response_hours": 100, "closed_deals": 10, "cycle_days": 900,
    "days_in_lead": 80, "exits_lead": 40, "days_in_mql": 30, "exits_mql": 20,
    "days_in_sql": 50, "exits_sql": 10, "days_in_opportunity": 240, "exits_opportunity": 8,
    "marketing_cost": 20000, "sales_cost": 10000, "target": 80000,
}  # fmt: skip

# Worked by hand from MEASURED, formula by formula.
EXPECTED = {
    "visit_to_lead": "0.2",  # 40 / 200
    "lead_to_mql": "0.5",  # 20 / 40
    "mql_to_sql": "0.5",  # 10 / 20
    "sql_to_opportunity": "0.8",  # 8 / 10
    "sql_to_deal": "0.4",  # 4 new customers / 10 SQLs
    "win_rate": "0.4",  # 4 / (4 + 6)
    "acv": "25000",  # 100000 / 4
    "deal_cycle_days": "90",  # 900 / 10
    "avg_days_in_lead": "2",  # 80 / 40
    "avg_days_in_mql": "1.5",  # 30 / 20
    "avg_days_in_sql": "5",  # 50 / 10
    "avg_days_in_opportunity": "30",  # 240 / 8
    "mql_response_hours": "5",  # 100 / 20
    "lead_quality": "0.75",  # 15 / (15 + 5)
    "rejection_share_no_budget": "0.25",  # 2 / 8
    "rejection_share_not_icp": "0.375",  # 3 / 8
    "rejection_share_too_early": "0.125",  # 1 / 8
    "rejection_share_competitor_won": "0",
    "rejection_share_no_response": "0.25",  # 2 / 8
    "rejection_share_other": "0",
    "revenue": "120000",  # 100000 + 20000
    "cpl": "500",  # 20000 / 40
    "cac": "7500",  # (20000 + 10000) / 4
    "ltv": "90000",  # 120000 / 4 x 3 periods x 1 purchase
    "ltv_to_cac": "12",  # 90000 / 7500
    "romi_pct": "500",  # (120000 x 1.0 - 20000) / 20000 x 100
    "nrr_pct": "100",  # (100000 + 15000 - 5000 - 10000) / 100000 x 100
    "plan_attainment_pct": "125",  # 100000 / 80000 x 100
    "brand_traffic_share": "0.25",  # 50 / 200
}


def text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def test_every_default_formula_against_hand_computed_values() -> None:
    assert set(EXPECTED) == set(DEFAULT_FORMULAS)
    assert set(MEASURED) == set(MEASURES)
    measures = {k: Decimal(v) for k, v in MEASURED.items()}
    results = evaluate(measures, Definitions().kpi)
    assert {k: text(v) for k, v in results.items()} == EXPECTED


def test_zero_denominators_give_no_value_and_dependents_follow() -> None:
    results = evaluate({"leads": Decimal(3)}, Definitions().kpi)
    assert results["cac"] is None  # no new customers
    assert results["ltv_to_cac"] is None  # uses cac
    assert results["cpl"] == 0  # no spend, three leads


def test_formulas_and_constants_are_definitions(tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(
        "[kpi.constants]\ngross_margin = 0.4\n"
        '[kpi.formulas]\nromi_pct = "(revenue * gross_margin - marketing_cost) / '
        'marketing_cost * 100"\nmql_share_of_leads = "mqls / leads * 100"\n'
    )
    kpi = load(path).kpi
    results = evaluate({k: Decimal(v) for k, v in MEASURED.items()}, kpi)
    assert text(results["romi_pct"]) == "140"  # (120000 x 0.4 - 20000) / 20000 x 100
    assert text(results["mql_share_of_leads"]) == "50"
    assert text(results["cpl"]) == "500"  # the defaults stay unless replaced


@pytest.mark.parametrize(
    ("formulas", "message"),
    [
        ('x = "leadz / 2"', "formula 'x' uses unknown name 'leadz'"),
        ('x = "y + 1"\ny = "x + 1"', "formulas depend on each other in a circle"),
        ('leads = "mqls"', "formula 'leads' has the name of a measure or constant"),
        ('x = "leads +"', "formula 'x' is not an expression"),
        ('x = "max(leads, mqls)"', "formula 'x' uses unknown name 'max'"),
        ("x = \"leads + 'a'\"", "formula 'x': formulas use numbers and names only"),
    ],
)
def test_bad_formulas_are_refused_when_loaded(tmp_path: Path, formulas: str, message: str) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(f"[kpi.formulas]\n{formulas}\n")
    with pytest.raises(DefinitionsError, match=message):
        load(path)


def test_measures_of_one_lead() -> None:
    events: list[Step] = [
        *HANDOVER[:7],
        ("deal_opened", "2026-03-06T10:00:00Z", {"deal_id": "D1", "amount": Decimal(9000),
                                                "currency": "EUR"}),
        ("deal_won", "2026-04-02T13:00:00Z", {"deal_id": "D1", "amount": Decimal(12000),
                                             "currency": "EUR"}),
        ("purchase", "2026-05-02T13:00:00Z", {"kind": "upsell", "order_id": None,
                                             "amount": Decimal(3000), "currency": "EUR"}),
        ("purchase", "2026-05-03T13:00:00Z", {"kind": "repeat", "order_id": None,
                                             "amount": Decimal(500), "currency": "USD"}),
        ("contraction", "2026-06-01T00:00:00Z", {"amount": Decimal(1000), "currency": "EUR"}),
        ("churned", "2026-07-01T00:00:00Z", {"reason": None}),
    ]  # fmt: skip
    defs = Definitions()
    state = play(events, defs)
    totals: dict[str, Fraction] = {}
    for name, _, value in lead_measures(state, defs.kpi):
        totals[name] = totals.get(name, Fraction(0)) + value
    assert totals == {
        "leads": 1, "mqls": 1, "sqls": 1, "opportunities": 1, "new_customers": 1,
        "responses": 1, "response_hours": 7, "accepted": 1,
        "deals_won": 1, "won_value": 12000, "closed_deals": 1,
        "cycle_days": 30,  # SQL 3 March 13:00 to the win on 2 April 13:00
        "repeat_revenue": 3000, "expansion": 3000,  # the USD purchase is left out
        "contraction": 1000, "churned_arr": 14000,  # 12000 + 3000 - 1000
        "days_in_lead": Fraction(1, 24), "exits_lead": 1,  # 09:00 to the MQL at 10:00
        "days_in_mql": Fraction(9, 8), "exits_mql": 1,  # to the SQL at 13:00 the next day
        "days_in_sql": Fraction(23, 8), "exits_sql": 1,  # to the deal opened on 6 March 10:00
        "days_in_opportunity": Fraction(217, 8), "exits_opportunity": 1,  # to the win
    }  # fmt: skip
