"""KPIs that mean what they say: churned ARR per churn, cycle length from the deal's own
SQL, exact sums, and money in another currency left out alike from counts and values."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest

from leadledger.projections import kpi as kpi_rules
from leadledger.projections.definitions import Definitions
from leadledger.projections.kpi import evaluate, lead_measures
from leadledger.projections.lifecycle import LeadState
from leadledger.sla_report import period_of
from tests.unit.test_sla import Step, play

DEFS = Definitions()  # reporting currency EUR


def monthly(state: LeadState, measure: str) -> dict[str, Fraction]:
    """One measure of one lead per month it happened in (the activity basis)."""
    found: dict[str, Fraction] = defaultdict(Fraction)
    for name, at, value in lead_measures(state, DEFS.kpi):
        if name == measure:
            found[period_of(at, "month")] += Fraction(value)
    return dict(found)


def totals(*states: LeadState) -> dict[str, Fraction]:
    found: dict[str, Fraction] = defaultdict(Fraction)
    for state in states:
        for name, _, value in lead_measures(state, DEFS.kpi):
            found[name] += Fraction(value)
    return dict(found)


def deal(deal_id: str, amount: int, currency: str = "EUR") -> dict[str, object]:
    return {"deal_id": deal_id, "amount": Decimal(amount), "currency": currency}


def purchase(kind: str, amount: int) -> dict[str, object]:
    return {"kind": kind, "order_id": None, "amount": Decimal(amount), "currency": "EUR"}


CREATED = {"origin": "inbound", "entry_stage": "lead", "segment": "smb"}
WON_IN_JANUARY: list[Step] = [
    ("lead_created", "2026-01-02T09:00:00Z", CREATED),
    ("stage_changed", "2026-01-03T09:00:00Z", {"stage": "mql"}),
    ("stage_changed", "2026-01-05T09:00:00Z", {"stage": "sql"}),
    ("deal_opened", "2026-01-10T09:00:00Z", deal("D1", 1000)),
    ("deal_won", "2026-01-20T09:00:00Z", deal("D1", 1000)),
]
CHURNED_IN_MARCH: list[Step] = [
    ("churned", "2026-03-15T09:00:00Z", {"reason": None}),
    ("recycled", "2026-04-01T09:00:00Z", {"reason": "too_early", "note": None}),
]
WON_BACK_IN_MAY: list[Step] = [
    ("stage_changed", "2026-04-10T09:00:00Z", {"stage": "mql"}),
    ("stage_changed", "2026-04-20T09:00:00Z", {"stage": "sql"}),
    ("deal_opened", "2026-05-01T09:00:00Z", deal("D2", 5000)),
    ("deal_won", "2026-05-10T09:00:00Z", deal("D2", 5000)),
]
CHURNED_IN_AUGUST: list[Step] = [("churned", "2026-08-05T09:00:00Z", {"reason": None})]


def test_a_win_back_does_not_rewrite_the_earlier_churn() -> None:
    before = play(WON_IN_JANUARY + CHURNED_IN_MARCH, DEFS)
    assert monthly(before, "churned_arr") == {"2026-03": 1000}
    after = play(WON_IN_JANUARY + CHURNED_IN_MARCH + WON_BACK_IN_MAY, DEFS)
    # The customer held 1,000 when it left in March; the 5,000 won in May is not churned.
    assert monthly(after, "churned_arr") == {"2026-03": 1000}


def test_a_second_churn_is_booked_on_its_own() -> None:
    state = play(WON_IN_JANUARY + CHURNED_IN_MARCH + WON_BACK_IN_MAY + CHURNED_IN_AUGUST, DEFS)
    assert monthly(state, "churned_arr") == {"2026-03": 1000, "2026-08": 5000}
    assert totals(state)["won_value"] == 6000


def test_arr_at_churn_counts_expansion_and_contraction_since_the_previous_churn() -> None:
    state = play([
        *WON_IN_JANUARY,
        ("purchase", "2026-02-10T09:00:00Z", purchase("upsell", 200)),
        ("contraction", "2026-03-01T09:00:00Z", {"amount": Decimal(50), "currency": "EUR"}),
        ("purchase", "2026-03-02T09:00:00Z", purchase("renewal", 999)),  # keeps ARR as is
        *CHURNED_IN_MARCH,
        *WON_BACK_IN_MAY,
        ("purchase", "2026-06-10T09:00:00Z", purchase("cross_sell", 300)),
        *CHURNED_IN_AUGUST,
    ], DEFS)  # fmt: skip
    # March: 1,000 + 200 - 50. August: 5,000 + 300; nothing from before March again.
    assert monthly(state, "churned_arr") == {"2026-03": 1150, "2026-08": 5300}


@pytest.mark.parametrize("opened", [True, False], ids=["opened", "won without opening"])
def test_deal_cycle_runs_from_the_sql_the_deal_came_from(opened: bool) -> None:
    events: list[Step] = [
        ("lead_created", "2026-01-05T09:00:00Z", CREATED),
        ("stage_changed", "2026-01-06T09:00:00Z", {"stage": "mql"}),
        ("stage_changed", "2026-01-07T10:00:00Z", {"stage": "sql"}),
        ("disqualified", "2026-01-10T10:00:00Z", {"reason": "not_icp", "note": None}),
        ("stage_changed", "2026-03-01T10:00:00Z", {"stage": "mql"}),
        ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "sql"}),
        *([("deal_opened", "2026-03-05T10:00:00Z", deal("D1", 800))] if opened else []),
        ("deal_won", "2026-03-12T10:00:00Z", deal("D1", 800)),
    ]
    found = totals(play(events, DEFS))
    assert found["closed_deals"] == 1
    assert found["cycle_days"] == 10  # 2 March 10:00 to 12 March 10:00, not from 7 January


def test_a_deal_opened_before_a_disqualification_keeps_its_own_sql() -> None:
    events: list[Step] = [
        ("lead_created", "2026-01-05T09:00:00Z", CREATED),
        ("stage_changed", "2026-01-06T09:00:00Z", {"stage": "mql"}),
        ("stage_changed", "2026-01-07T10:00:00Z", {"stage": "sql"}),
        ("deal_opened", "2026-01-08T10:00:00Z", deal("D1", 800)),
        ("deal_lost", "2026-01-10T10:00:00Z", {"deal_id": "D1", "reason": "no_budget",
                                              "note": None}),
        ("recycled", "2026-01-11T10:00:00Z", {"reason": "no_budget", "note": None}),
        ("stage_changed", "2026-03-01T10:00:00Z", {"stage": "mql"}),
        ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "sql"}),
        ("deal_opened", "2026-03-05T10:00:00Z", deal("D2", 900)),
        ("deal_won", "2026-03-12T10:00:00Z", deal("D2", 900)),
    ]  # fmt: skip
    state = play(events, DEFS)
    assert monthly(state, "cycle_days") == {"2026-01": 3, "2026-03": 10}


def test_sums_are_exact_and_rounded_once() -> None:
    # 400 leads that became MQLs one second after they were created: 1/86,400 of a day
    # each. Rounded per lead to 6 decimals (0.000012) they would sum to 0.0048 days.
    second_later: list[Step] = [
        ("lead_created", "2026-01-02T09:00:00Z", CREATED),
        ("stage_changed", "2026-01-02T09:00:01Z", {"stage": "mql"}),
    ]
    found = totals(*(play(second_later, DEFS) for _ in range(400)))
    assert found["days_in_lead"] == Fraction(400, 86400)
    shown = kpi_rules.rounded_once(found)["days_in_lead"]
    assert shown.quantize(Decimal("0.0001")) == Decimal("0.0046")  # 0.00462962...


def two_customers() -> tuple[LeadState, LeadState]:
    def customer(currency: str) -> LeadState:
        return play([
            ("lead_created", "2026-01-02T09:00:00Z", CREATED),
            ("stage_changed", "2026-01-03T09:00:00Z", {"stage": "mql"}),
            ("stage_changed", "2026-01-05T09:00:00Z", {"stage": "sql"}),
            ("deal_won", "2026-01-20T09:00:00Z", deal("D1", 1000, currency)),
        ], DEFS)  # fmt: skip

    return customer("EUR"), customer("USD")


def test_a_deal_in_another_currency_is_left_out_of_acv_alike() -> None:
    found = totals(*two_customers())
    # The USD deal is out of the count as well as the value: ACV 1,000, not 500.
    assert found["deals_won"] == 1
    assert found["won_value"] == 1000
    results = evaluate({k: Decimal(v.numerator) / v.denominator for k, v in found.items()},
                       DEFS.kpi)  # fmt: skip
    assert results["acv"] == 1000
    assert found["new_customers"] == 1  # CAC and LTV divide by customers whose money counts
    assert found["closed_deals"] == 1


def test_what_is_left_out_is_listed() -> None:
    _, in_dollars = two_customers()
    at = in_dollars.deals["D1"].closed_at
    assert list(kpi_rules.left_out(in_dollars, DEFS.kpi)) == [
        ("new_customer", at, "USD", None),
        ("deal_won", at, "USD", Decimal(1000)),
    ]


def test_an_accepted_mql_later_rejected_counts_once_in_lead_quality() -> None:
    state = play([
        ("lead_created", "2026-01-02T09:00:00Z", CREATED),
        ("stage_changed", "2026-01-02T10:00:00Z", {"stage": "mql"}),
        ("mql_accepted", "2026-01-02T12:00:00Z", {"rep": "ana"}),
        ("mql_rejected", "2026-01-05T12:00:00Z", {"reason": "not_icp", "note": None}),
    ], DEFS)  # fmt: skip
    found = totals(state)
    # Sales' answer was to accept; the later rejection still counts by its reason tag.
    assert found["accepted"] == 1
    assert "rejected_mqls" not in found  # not a second verdict on the same MQL
    assert found["rejected_not_icp"] == found["rejections"] == 1
    results = evaluate({k: Decimal(v.numerator) / v.denominator for k, v in found.items()},
                       DEFS.kpi)  # fmt: skip
    assert results["lead_quality"] == 1  # was 1 / (1 + 1): one MQL counted twice
