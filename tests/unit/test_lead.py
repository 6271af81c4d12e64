from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.application import Application

from leadledger.domain.errors import RuleViolation
from leadledger.domain.lead import Lead, Stage, lead_uuid

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_lead() -> Lead:
    lead = Lead.open("L1", T0, "web")
    lead.record_touch(event_id="t1", occurred_at=T0, source_system="web", channel="email")
    return lead


def test_stream_opens_before_the_lead_exists_so_early_touches_are_kept() -> None:
    lead = new_lead()
    assert lead.id == lead_uuid("L1")
    assert lead.stage is Stage.VISITOR
    assert lead.has_seen("t1")
    assert not lead.has_seen("t2")


def test_deal_cannot_be_won_before_the_lead_is_created() -> None:
    lead = new_lead()
    with pytest.raises(RuleViolation, match="deal 'D1' cannot be won: lead 'L1' was never created"):
        lead.win_deal(
            event_id="w1",
            occurred_at=T0,
            source_system="crm",
            deal_id="D1",
            amount=Decimal(1),
            currency="EUR",
        )
    assert [type(e) for e in lead.pending_events] == [Lead.Opened, Lead.TouchRecorded]


def test_lead_is_created_once_and_a_deal_won_once() -> None:
    lead = new_lead()
    lead.create(event_id="c1", occurred_at=T0, source_system="crm", origin="inbound")
    with pytest.raises(RuleViolation, match="lead 'L1' was already created \\(event 'c1'\\)"):
        lead.create(event_id="c2", occurred_at=T0, source_system="crm", origin="inbound")
    lead.win_deal(
        event_id="w1",
        occurred_at=T0 + timedelta(days=3),
        source_system="crm",
        deal_id="D1",
        amount=Decimal("10.5"),
        currency="EUR",
    )
    with pytest.raises(RuleViolation, match="deal 'D1' of lead 'L1' was already won"):
        lead.win_deal(
            event_id="w2",
            occurred_at=T0,
            source_system="crm",
            deal_id="D1",
            amount=Decimal(1),
            currency="EUR",
        )
    assert lead.stage is Stage.WON


def test_replaying_stored_events_rebuilds_the_same_state() -> None:
    app: Application[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    lead = new_lead()
    lead.create(
        event_id="c1", occurred_at=T0, source_system="crm", origin="outbound", segment="smb"
    )
    lead.win_deal(
        event_id="w1",
        occurred_at=T0,
        source_system="crm",
        deal_id="D1",
        amount=Decimal("99.99"),
        currency="USD",
    )
    app.save(lead)
    again: Lead = app.repository.get(lead.id)
    assert isinstance(again, Lead)
    assert (again.stage, again.won_deals, again.seen_event_ids, again.version) == (
        Stage.WON,
        ["D1"],
        {"t1", "c1", "w1"},
        4,
    )
