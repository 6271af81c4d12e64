"""SLA clocks, hand-computed: around the clock, and on business-hours calendars across a
weekend, public holidays and a daylight-saving change in non-UTC time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadledger.projections.definitions import CalendarSpec, Definitions, DefinitionsError, load
from leadledger.projections.lifecycle import Clock, LeadState, clocks, fold

DEFAULTS = Definitions()
Step = tuple[str, str, dict[str, Any]]  # event type, when, fields


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def play(events: list[Step], definitions: Definitions) -> LeadState:
    state = LeadState(lead_id="L1")
    for n, (kind, when, fields) in enumerate(events):
        record = {"event_id": f"e{n}", "lead_id": "L1", "occurred_at": at(when),
                  "recorded_at": at(when)} | fields  # fmt: skip
        fold(state, kind, record, definitions)
    return state


def by_clock(state: LeadState, definitions: Definitions) -> dict[tuple[int, str], Clock]:
    calendar = definitions.sla.calendar.calendar()
    return {(r.cycle, r.clock): r for r in clocks(state, definitions.sla, calendar)}


def test_sydney_business_hours_across_easter_and_the_end_of_daylight_saving() -> None:
    # Thursday 2 April 2026, 15:00 AEDT (UTC+11) = 04:00 UTC. Good Friday (3rd) and Easter
    # Monday (6th) are NSW holidays; daylight saving ends on Sunday the 5th (UTC+10 after).
    spec = CalendarSpec(hours="business", time_zone="Australia/Sydney",
                        holidays_country="AU", holidays_subdivision="NSW")  # fmt: skip
    calendar = spec.calendar()
    start = at("2026-04-02T04:00:00+00:00")
    # 2 h on Thursday (15-17); Tuesday opens 09:00 AEST = Monday 23:00 UTC; 6 h more.
    assert calendar.deadline(start, 8 * 3600) == at("2026-04-07T05:00:00+00:00")
    # A naive UTC calendar would say 04:00: an hour early, the hour daylight saving gave back.
    assert calendar.working_seconds(start, at("2026-04-07T02:00:00+00:00")) == 5 * 3600
    assert calendar.working_seconds(start, at("2026-04-06T22:59:00+00:00")) == 2 * 3600


def test_berlin_clock_over_the_weekend_daylight_saving_starts() -> None:
    # Friday 27 March 2026 16:00 CET = 15:00 UTC; clocks go forward on Sunday the 29th.
    calendar = CalendarSpec(hours="business", time_zone="Europe/Berlin").calendar()
    start = at("2026-03-27T15:00:00+00:00")
    # 1 h on Friday; Monday 09:00 CEST = 07:00 UTC, plus 7 h = 14:00 UTC.
    assert calendar.deadline(start, 8 * 3600) == at("2026-03-30T14:00:00+00:00")
    assert calendar.working_seconds(start, at("2026-03-30T08:30:00+00:00")) == 2.5 * 3600


def test_extra_holidays_and_a_working_saturday() -> None:
    spec = CalendarSpec(hours="business", time_zone="Europe/Moscow", holidays_country="RU",
                        working_days=["mon", "tue", "wed", "thu", "fri", "sat"],
                        extra_holidays=["2026-02-14"])  # fmt: skip
    calendar = spec.calendar()
    # Friday 13 Feb 2026 16:00 MSK (UTC+3, no daylight saving): 1 h on Friday, Saturday the
    # 14th is an extra holiday, Sunday is not a working day, Monday 09:00 MSK = 06:00 UTC.
    start = at("2026-02-13T13:00:00+00:00")
    assert calendar.deadline(start, 4 * 3600) == at("2026-02-16T09:00:00+00:00")
    # Russia's 9 January 2026 is a non-working day (decree), straight from `holidays`.
    assert calendar.working_seconds(at("2026-01-09T06:00:00Z"), at("2026-01-09T14:00:00Z")) == 0


def test_around_the_clock_counts_every_second() -> None:
    calendar = DEFAULTS.sla.calendar.calendar()
    start = at("2026-04-04T10:00:00Z")
    assert calendar.deadline(start, 8 * 3600) == at("2026-04-04T18:00:00Z")
    assert calendar.working_seconds(start, at("2026-04-05T10:00:00Z")) == 86400


HANDOVER: list[Step] = [
    ("lead_created", "2026-03-02T09:00:00Z", {"origin": "inbound", "entry_stage": "lead",
                                             "segment": "smb"}),
    ("assigned", "2026-03-02T09:30:00Z", {"rep": "ana", "team": "emea"}),
    ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "mql"}),
    ("mql_accepted", "2026-03-02T17:00:00Z", {"rep": "ana"}),
    ("contact_attempted", "2026-03-03T12:00:00Z", {"method": "call", "outcome": "no_answer"}),
    ("stage_changed", "2026-03-03T13:00:00Z", {"stage": "sql"}),
    ("sql_confirmed", "2026-03-03T18:30:00Z", {"rep": "ben"}),
    ("contact_attempted", "2026-03-04T09:00:00Z", {"method": "email", "outcome": "bounced"}),
    ("contact_attempted", "2026-03-04T10:00:00Z", {"method": "call", "outcome": "voicemail"}),
    ("disqualified", "2026-03-05T09:00:00Z", {"reason": "no_response", "note": None}),
    ("stage_changed", "2026-03-10T09:00:00Z", {"stage": "mql"}),
]  # fmt: skip


def test_every_clock_of_a_handover_around_the_clock() -> None:
    rows = by_clock(play(HANDOVER, DEFAULTS), DEFAULTS)
    response = rows[(1, "mql_response")]
    assert (response.status, response.measured, response.rep) == ("met", 7 * 3600, "ana")
    assert response.deadline == at("2026-03-02T18:00:00Z")
    contact = rows[(1, "first_contact")]  # 10:00 to 12:00 the next day: 26 h > 24 h
    assert (contact.status, contact.measured) == ("breached", 26 * 3600)
    confirm = rows[(1, "sql_confirm")]  # 13:00 to 18:30: 5.5 h > 4 h, confirmed by ben
    assert (confirm.status, confirm.measured, confirm.rep) == ("breached", 19800, "ben")
    attempts = rows[(0, "contact_attempts")]  # 3 attempts in the cycle, 3 required
    assert (attempts.status, attempts.measured, attempts.limit) == ("met", 3.0, 3.0)
    assert rows[(0, "reason_returned")].detail == "no_response"
    assert rows[(0, "reason_returned")].status == "met"
    assert rows[(0, "disqualified_after_sql")].status == "met"
    reopened = rows[(2, "mql_response")]  # the second cycle's MQL waits for an answer
    assert (reopened.status, reopened.deadline) == ("open", at("2026-03-10T17:00:00Z"))
    assert len(rows) == 8  # 3 clocks of cycle 1, 3 checks, 2 open clocks of cycle 2


def test_new_thresholds_change_the_verdicts() -> None:
    stricter = Definitions.model_validate(
        {"sla": {"mql_response_hours": 6, "first_contact_hours": 48, "min_contact_attempts": 4}}
    )
    rows = by_clock(play(HANDOVER, stricter), stricter)
    assert rows[(1, "mql_response")].status == "breached"  # 7 h > 6 h
    assert rows[(1, "first_contact")].status == "met"  # 26 h <= 48 h
    assert rows[(0, "contact_attempts")].status == "breached"  # 3 < 4


def test_business_hours_turn_a_breach_into_compliance() -> None:
    sydney = Definitions.model_validate({"sla": {"calendar": {
        "hours": "business", "time_zone": "Australia/Sydney",
        "holidays_country": "AU", "holidays_subdivision": "NSW"}}})  # fmt: skip
    events: list[Step] = [
        ("lead_created", "2026-04-01T23:00:00Z", {"origin": "inbound", "entry_stage": "lead",
                                                 "segment": None}),
        ("stage_changed", "2026-04-02T04:00:00Z", {"stage": "mql"}),
        ("mql_rejected", "2026-04-07T02:00:00Z", {"reason": "not_icp", "note": None}),
    ]  # fmt: skip
    on_calendar = by_clock(play(events, sydney), sydney)[(1, "mql_response")]
    assert (on_calendar.status, on_calendar.measured) == ("met", 5 * 3600)
    around = by_clock(play(events, DEFAULTS), DEFAULTS)[(1, "mql_response")]
    assert (around.status, around.measured) == ("breached", 118 * 3600)


def test_a_cycle_ended_before_an_answer_cancels_or_breaches_its_clocks() -> None:
    events: list[Step] = [
        ("lead_created", "2026-03-02T09:00:00Z", {"origin": "inbound", "entry_stage": "lead",
                                                 "segment": None}),
        ("stage_changed", "2026-03-02T10:00:00Z", {"stage": "mql"}),
        ("recycled", "2026-03-02T12:00:00Z", {"reason": "too_early", "note": None}),
    ]  # fmt: skip
    rows = by_clock(play(events, DEFAULTS), DEFAULTS)
    assert rows[(1, "mql_response")].status == "cancelled"  # ended 2 h in, within 8 h
    late: list[Step] = [*events[:2], ("recycled", "2026-03-03T12:00:00Z", events[2][2])]
    assert by_clock(play(late, DEFAULTS), DEFAULTS)[(1, "mql_response")].status == "breached"


def test_score_based_mql_starts_the_clock_at_the_score() -> None:
    scored = Definitions.model_validate({"funnel": {"mql": "score", "mql_score": 50}})
    events: list[Step] = [
        ("lead_created", "2026-03-02T09:00:00Z", {"origin": "inbound", "entry_stage": "lead",
                                                 "segment": None}),
        ("score_changed", "2026-03-02T09:30:00Z", {"score": 40, "model": None}),
        ("score_changed", "2026-03-02T11:00:00Z", {"score": 55, "model": None}),
        ("stage_changed", "2026-03-02T15:00:00Z", {"stage": "mql"}),
        ("mql_accepted", "2026-03-02T20:00:00Z", {"rep": None}),
    ]  # fmt: skip
    by_score = by_clock(play(events, scored), scored)[(1, "mql_response")]
    assert (by_score.started_at, by_score.status) == (at("2026-03-02T11:00:00Z"), "breached")
    by_stage = by_clock(play(events, DEFAULTS), DEFAULTS)[(1, "mql_response")]
    assert (by_stage.started_at, by_stage.status) == (at("2026-03-02T15:00:00Z"), "met")


def test_calendar_definitions_are_checked(tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sla.calendar]\nhours = "business"\ntime_zone = "Mars/Olympus"\n')
    with pytest.raises(DefinitionsError, match="unknown time zone 'Mars/Olympus'"):
        load(bad)
    bad.write_text('[sla.calendar]\nhours = "business"\nopens = 18:00:00\ncloses = 09:00:00\n')
    with pytest.raises(DefinitionsError, match="closes must be after opens"):
        load(bad)
    bad.write_text('[sla.calendar]\nholidays_country = "DE"\nholidays_subdivision = "ZZ"\n')
    with pytest.raises(DefinitionsError, match="subdivision"):
        load(bad)
    bad.write_text('[sla.calendar]\nholidays_country = "XX"\n')
    with pytest.raises(DefinitionsError, match="no public holidays known for country 'XX'"):
        load(bad)
