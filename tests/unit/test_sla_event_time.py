"""The SLA read model in event time (issue "One truth", point 7), hand-computed: facts in
their place whatever the arrival order, hand-over breaches recorded as verdicts, one rule
for every clock end, and the SLA as it stood at a moment."""

from __future__ import annotations

import random
from typing import Any

from leadledger.projections.definitions import Definitions
from leadledger.projections.lifecycle import LeadState, as_at, clocks, dump, fold
from tests.unit.test_sla import DEFAULTS, Step, at, by_clock, play

CREATED = {"origin": "inbound", "entry_stage": "lead", "segment": None}
NINE_TO_FIVE = Definitions.model_validate(
    {"sla": {"calendar": {"hours": "business", "time_zone": "UTC", "opens": "09:00:00",
                          "closes": "17:00:00"}}}
)  # fmt: skip


def arrive(events: list[Step], order: list[int], definitions: Definitions) -> LeadState:
    """Fold ``events`` delivered in ``order`` (indices), each with its own event id."""
    state = LeadState(lead_id="L1")
    for n in order:
        kind, when, fields = events[n]
        record = {"event_id": f"e{n}", "source_system": "crm", "lead_id": "L1",
                  "occurred_at": at(when), "recorded_at": at(when), "stream_version": n + 1,
                  **fields}  # fmt: skip
        fold(state, kind, record, definitions)
    return state


HANDOVER: list[Step] = [
    ("lead_created", "2026-03-02T09:00:00Z", CREATED),
    ("assigned", "2026-03-02T09:30:00Z", {"rep": "ana", "team": "emea"}),
    ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "mql"}),
    ("mql_accepted", "2026-03-02T12:00:00Z", {"rep": "ana"}),
    ("stage_changed", "2026-03-02T13:00:00Z", {"stage": "sql"}),
    ("contact_attempted", "2026-03-02T14:00:00Z", {"method": "call", "outcome": "no_answer"}),
    ("disqualified", "2026-03-03T09:00:00Z", {"reason": "no_response", "note": None}),
    ("contact_attempted", "2026-03-04T09:00:00Z", {"method": "call", "outcome": "no_answer"}),
    ("contact_attempted", "2026-03-04T10:00:00Z", {"method": "email", "outcome": "bounced"}),
    ("stage_changed", "2026-03-06T10:00:00Z", {"stage": "mql"}),
    ("mql_rejected", "2026-03-06T11:00:00Z", {"reason": None, "note": None}),
    ("stage_changed", "2026-03-09T10:00:00Z", {"stage": "mql"}),
    ("disqualified", "2026-03-09T11:00:00Z", {"reason": "budget freeze", "note": None}),
]  # fmt: skip


def test_any_arrival_order_and_any_repeat_gives_the_state_of_one_clean_fold() -> None:
    clean = dump(arrive(HANDOVER, list(range(len(HANDOVER))), DEFAULTS))
    rng = random.Random(10)
    for _ in range(50):
        order = list(range(len(HANDOVER)))
        rng.shuffle(order)
        order += rng.sample(order, 5)  # re-sent by another path: folded once
        assert dump(arrive(HANDOVER, order, DEFAULTS)) == clean


def test_policy_breaches_are_verdicts() -> None:
    rows = {(c.clock, c.seq): c for c in clocks(play_all(), DEFAULTS.sla, calendar())}
    # The no_response disqualification counts only the attempt made before it (1 < 3),
    # not the two made after it, whatever order they arrived in.
    attempts = rows[("contact_attempts", 0)]
    assert (attempts.status, attempts.measured) == ("breached", 1.0)
    assert rows[("disqualified_after_sql", 0)].status == "met"
    assert rows[("reason_returned", 1)].status == "breached"  # a rejection with no tag
    assert rows[("reason_returned", 1)].detail is None
    assert rows[("disqualified_after_sql", 2)].status == "breached"  # an MQL disqualified
    unknown = rows[("reason_returned", 2)]  # an unknown tag, kept as given
    assert (unknown.status, unknown.detail) == ("breached", "budget freeze")


def play_all() -> LeadState:
    order = list(range(len(HANDOVER)))
    order.insert(5, order.pop())  # the last disqualification arrives early: parked no more
    return arrive(HANDOVER, list(reversed(order)), DEFAULTS)


def calendar() -> Any:
    return DEFAULTS.sla.calendar.calendar()


def test_stricter_threshold_re_judges_history() -> None:
    lenient = Definitions.model_validate({"sla": {"min_contact_attempts": 1}})
    state = arrive(HANDOVER, list(range(len(HANDOVER))), lenient)
    [check] = [c for c in clocks(state, lenient.sla, calendar()) if c.clock == "contact_attempts"]
    assert check.status == "met"


def test_an_attempt_between_a_rejection_and_the_next_hand_over_stops_nothing() -> None:
    events: list[Step] = [
        ("lead_created", "2026-03-02T09:00:00Z", CREATED),
        ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "mql"}),
        ("mql_rejected", "2026-03-02T11:00:00Z", {"reason": "too_early", "note": None}),
        ("contact_attempted", "2026-03-03T09:00:00Z", {"method": "call", "outcome": "other"}),
        ("stage_changed", "2026-03-05T10:00:00Z", {"stage": "mql"}),
        ("contact_attempted", "2026-03-06T12:00:00Z", {"method": "call", "outcome": "other"}),
    ]  # fmt: skip
    contact = by_clock(play(events, DEFAULTS), DEFAULTS)[(2, "first_contact")]
    # Stopped by the attempt after the second hand-over: 26 h, not by the one before it.
    assert (contact.stopped_at, contact.measured, contact.status) == (
        at("2026-03-06T12:00:00Z"), 26 * 3600, "breached")  # fmt: skip


def test_one_verdict_rule_for_a_stopped_and_a_cancelled_clock() -> None:
    """An 8-working-hour day (09-17 UTC): an MQL at 09:00 answered, or recycled, at 19:45
    used exactly 8 working hours: within the limit, whichever way the clock ended."""
    start: list[Step] = [
        ("lead_created", "2026-03-02T08:00:00Z", CREATED),
        ("stage_changed", "2026-03-02T09:00:00Z", {"stage": "mql"}),
    ]  # fmt: skip
    accepted = [*start, ("mql_accepted", "2026-03-02T19:45:00Z", {"rep": None})]
    recycled = [*start, ("recycled", "2026-03-02T19:45:00Z", {"reason": "other", "note": None})]
    met = by_clock(play(accepted, NINE_TO_FIVE), NINE_TO_FIVE)[(1, "mql_response")]
    cancelled = by_clock(play(recycled, NINE_TO_FIVE), NINE_TO_FIVE)[(1, "mql_response")]
    assert (met.status, met.measured) == ("met", 8 * 3600)
    assert (cancelled.status, cancelled.measured) == ("cancelled", 8 * 3600)
    late = [*start, ("recycled", "2026-03-03T09:01:00Z", {"reason": "other", "note": None})]
    assert (
        by_clock(play(late, NINE_TO_FIVE), NINE_TO_FIVE)[(1, "mql_response")].status == "breached"
    )


def test_the_sla_as_it_stood_at_a_moment_ignores_later_facts() -> None:
    state = arrive(HANDOVER, list(range(len(HANDOVER))), DEFAULTS)
    then = as_at(state, at("2026-03-02T11:00:00Z"), DEFAULTS)
    rows = by_clock(then, DEFAULTS)
    assert rows[(1, "mql_response")].status == "open"  # accepted at 12:00, after the moment
    assert (1, "sql_confirm") not in rows  # the SQL came later
    assert len(then.cycles) == 1
    assert not then.rejections
    assert as_at(state, at("2026-12-31T00:00:00Z"), DEFAULTS) is state
