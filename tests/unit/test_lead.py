"""The funnel rules on the Lead aggregate, scenario by scenario (pure, in memory)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application

from leadledger.domain.errors import RuleViolation
from leadledger.domain.funnel import MOVES, TIE_ORDER, Stage
from leadledger.domain.lead import Lead
from leadledger.domain.stream import Stream, stream_uuid

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_ids = iter(range(10**6))


def fact(
    lead: Lead, fact_type: type[Stream.Fact], /, hour: int | None = None, **fields: Any
) -> None:
    """Record a fact that happened ``hour`` hours after T0; by default, a second after the
    fact recorded before it (the tests' facts happen in the order they are written)."""
    number = next(_ids)
    at = T0 + (timedelta(seconds=number) if hour is None else timedelta(hours=hour))
    common = {"event_id": f"e{number}", "occurred_at": at, "source_system": "test"}
    lead.record(fact_type, **common, **fields)


CREATED: dict[str, Any] = {
    "origin": "inbound", "entry_stage": "lead", "segment": None, "industry": None,
    "company_size": None, "country": None, "icp_fit": None}  # fmt: skip
TOUCH: dict[str, Any] = {
    "channel": "email", "source": None, "medium": None, "campaign": None, "content": None,
    "keyword": None, "cost": None, "kind": "online", "anonymous_id": None}  # fmt: skip


def lead_at(stage: str) -> Lead:
    lead = Lead.open("L1", T0, "web")
    fact(lead, Lead.TouchRecorded, **TOUCH)
    path = ["lead", "mql", "sql", "opportunity"]
    for step in path[: path.index(stage) + 1] if stage in path else []:
        if step == "lead":
            fact(lead, Lead.Created, **CREATED)
        else:
            fact(lead, Lead.StageChanged, stage=step)
    return lead


def won(lead: Lead, deal_id: str = "D1") -> None:
    fact(lead, Lead.DealWon, deal_id=deal_id, amount=Decimal("10.5"), currency="EUR")


def test_stream_opens_before_the_lead_exists_so_early_touches_are_kept() -> None:
    lead = lead_at("visitor")
    assert lead.id == stream_uuid("lead", "L1")
    assert lead.stage == Stage.VISITOR
    assert len(lead.seen_keys) == 1


def test_stages_move_forward_and_a_deal_is_won_only_from_sql_or_opportunity() -> None:
    lead = lead_at("mql")
    with pytest.raises(RuleViolation, match="deal_won refused: lead 'L1' is at stage mql; "
                       "deal_won is allowed at: opportunity, sql"):  # fmt: skip
        won(lead)
    with pytest.raises(RuleViolation, match="stage_changed:mql refused: lead 'L1' is at stage mql"):
        fact(lead, Lead.StageChanged, stage="mql")
    fact(lead, Lead.StageChanged, stage="sql")
    won(lead)
    assert (lead.stage, lead.deals) == (Stage.WON, {"D1": "won"})
    with pytest.raises(RuleViolation, match="deal_won refused: lead 'L1' is at stage won"):
        won(lead, "D2")


def test_only_an_outbound_lead_may_enter_at_sql() -> None:
    lead = lead_at("visitor")
    with pytest.raises(RuleViolation, match="may enter at sql only when sales-sourced"):
        fact(lead, Lead.Created, **(CREATED | {"entry_stage": "sql"}))
    fact(lead, Lead.Created, **(CREATED | {"entry_stage": "sql", "origin": "outbound"}))
    assert (lead.stage, lead.entered_at_sql) == (Stage.SQL, True)


def test_rejection_recycles_to_nurture_and_requalification_opens_a_new_cycle() -> None:
    lead = lead_at("mql")
    fact(lead, Lead.MqlAccepted, rep="ann")
    with pytest.raises(RuleViolation, match="already accepted"):
        fact(lead, Lead.MqlAccepted, rep="ann")
    fact(lead, Lead.MqlRejected, reason="too_early", note=None)
    assert (lead.stage, lead.cycle, lead.mql_accepted) == (Stage.NURTURE, 2, False)
    fact(lead, Lead.StageChanged, stage="mql")
    fact(lead, Lead.MqlAccepted, rep="bob")
    assert (lead.stage, lead.cycle) == (Stage.MQL, 2)


def test_hand_over_policy_breaches_are_stored_not_refused() -> None:
    """A missing or unknown reason tag, a no_response disqualification after too few
    attempts, a disqualified MQL: the sales system did it, so the lead records it (the SLA
    read model judges it)."""
    lead = lead_at("mql")
    fact(lead, Lead.MqlRejected, reason=None, note=None)
    assert (lead.stage, lead.cycle) == (Stage.NURTURE, 2)
    fact(lead, Lead.StageChanged, stage="mql")
    fact(lead, Lead.MqlRejected, reason="meh", note=None)
    fact(lead, Lead.StageChanged, stage="mql")
    fact(lead, Lead.Disqualified, reason="not_icp", note=None)  # an MQL, before SQL
    fact(lead, Lead.StageChanged, stage="mql")
    fact(lead, Lead.StageChanged, stage="sql")
    fact(lead, Lead.ContactAttempted, method="call", outcome="no_answer")
    fact(lead, Lead.Disqualified, reason="no_response", note=None)  # after one attempt
    assert (lead.stage, lead.cycle) == (Stage.NURTURE, 5)


def test_a_late_fact_is_judged_at_the_time_it_happened() -> None:
    """mql_accepted delivered after the SQL it preceded was legal when it happened."""
    lead = lead_at("visitor")
    fact(lead, Lead.Created, hour=1, **CREATED)
    fact(lead, Lead.StageChanged, hour=2, stage="mql")
    fact(lead, Lead.StageChanged, hour=4, stage="sql")
    fact(lead, Lead.MqlAccepted, hour=3, rep="ann")
    assert (lead.stage, lead.mql_accepted) == (Stage.SQL, True)
    assert [step[2] for step in lead.timeline] == [
        "lead_created", "stage_changed", "mql_accepted", "stage_changed"]  # fmt: skip


def test_a_late_fact_that_was_illegal_when_it_happened_is_refused() -> None:
    lead = lead_at("visitor")
    fact(lead, Lead.Created, hour=1, **CREATED)
    fact(lead, Lead.StageChanged, hour=3, stage="mql")
    with pytest.raises(RuleViolation, match=r"is at stage lead.*at its occurred_at"):
        fact(lead, Lead.MqlAccepted, hour=2, rep="ann")  # before the MQL


def test_a_late_fact_is_judged_only_with_the_facts_before_it() -> None:
    """The later acceptance stays: an MQL between the two may still be on its way. The
    table is not re-applied to later facts; their guards are (see the next test)."""
    lead = lead_at("visitor")
    fact(lead, Lead.Created, hour=1, **CREATED)
    fact(lead, Lead.StageChanged, hour=2, stage="mql")
    fact(lead, Lead.MqlAccepted, hour=4, rep="ann")
    fact(lead, Lead.MqlRejected, hour=3, reason="too_early", note=None)
    assert [step[2] for step in lead.timeline][-2:] == ["mql_rejected", "mql_accepted"]
    assert (lead.cycle, lead.mql_accepted) == (2, True)


def test_a_second_win_of_one_deal_is_refused_even_when_late() -> None:
    lead = lead_at("visitor")
    fact(lead, Lead.Created, hour=1, **(CREATED | {"entry_stage": "sql", "origin": "outbound"}))
    fact(lead, Lead.DealOpened, hour=2, deal_id="D1", amount=None, currency=None)
    fact(lead, Lead.DealWon, hour=5, deal_id="D1", amount=Decimal(1), currency="EUR")
    with pytest.raises(RuleViolation, match=r"the later deal_won .* would then be impossible"):
        fact(lead, Lead.DealWon, hour=3, deal_id="D1", amount=Decimal(1), currency="EUR")


def test_a_merged_lead_accepts_nothing_more() -> None:
    lead = lead_at("lead")
    with pytest.raises(RuleViolation, match="cannot be merged into itself"):
        fact(lead, Lead.Merged, into_lead_id="L1")
    fact(lead, Lead.Merged, into_lead_id="L2")
    with pytest.raises(RuleViolation, match=r"was merged into 'L2' at .* accepts no later events"):
        fact(lead, Lead.TouchRecorded, hour=1, **TOUCH)
    with pytest.raises(RuleViolation, match="was merged into 'L2' and accepts no further events"):
        fact(lead, Lead.StageChanged, hour=1, stage="mql")
    fact(lead, Lead.TouchRecorded, hour=0, **TOUCH)  # from before the merge, delivered late


def test_unlink_needs_a_link() -> None:
    lead = lead_at("visitor")
    with pytest.raises(RuleViolation, match="visitor 'v1' is not linked to lead 'L1'"):
        fact(lead, Lead.Unlinked, anonymous_id="v1")
    fact(lead, Lead.Identified, anonymous_id="v1")
    fact(lead, Lead.Unlinked, anonymous_id="v1")
    assert lead.anonymous_ids == set()


def test_replaying_stored_events_rebuilds_the_same_state() -> None:
    app: Application[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    lead = lead_at("opportunity")
    won(lead)
    fact(lead, Lead.Purchased, kind="renewal", order_id=None, amount=Decimal(5), currency="EUR")
    app.save(lead)
    again: Lead = app.repository.get(lead.id)
    assert vars(again) == vars(lead) | {"_pending_events": []}


def test_facts_at_one_instant_follow_the_funnel_order_whatever_their_arrival() -> None:
    """An acceptance and the SQL it led to, stamped with one time by the CRM."""
    lead = lead_at("visitor")
    fact(lead, Lead.Created, hour=1, **CREATED)
    fact(lead, Lead.StageChanged, hour=2, stage="mql")
    fact(lead, Lead.StageChanged, hour=3, stage="sql")
    fact(lead, Lead.MqlAccepted, hour=3, rep="ann")  # arrived second, taken first
    assert [step[2] for step in lead.timeline][-2:] == ["mql_accepted", "stage_changed"]
    assert (lead.stage, lead.mql_accepted) == (Stage.SQL, True)


def test_a_late_fact_never_revives_a_merged_lead() -> None:
    lead = lead_at("visitor")
    fact(lead, Lead.Created, hour=1, **CREATED)
    fact(lead, Lead.StageChanged, hour=2, stage="mql")
    fact(lead, Lead.StageChanged, hour=5, stage="sql")
    with pytest.raises(RuleViolation, match=r"the later stage_changed:sql .* impossible"):
        fact(lead, Lead.Merged, hour=3, into_lead_id="L2")  # sql after it cannot be
    assert lead.stage == Stage.SQL


def test_every_funnel_move_has_a_place_at_one_instant() -> None:
    assert set(MOVES) <= set(TIE_ORDER)
