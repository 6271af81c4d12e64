"""The event store contract, run on SQLite and on PostgreSQL (real servers)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from leadledger.compression import inflate
from leadledger.config import Database
from leadledger.domain.funnel import Stage
from leadledger.domain.lead import Lead
from leadledger.domain.stream import idempotency_key, stream_uuid
from leadledger.ingest import Ingestor
from leadledger.messages import IngestEvent, parse_event
from leadledger.store import EventStore, open_store
from leadledger.wire import to_wire

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database: Database) -> Iterator[EventStore]:
    opened = open_store(database)
    yield opened
    opened.close()


def msg(
    event_type: str, event_id: str, hours: float = 0, /, lead: str | None = "L1", **fields: Any
) -> IngestEvent:
    data = {"type": event_type, "event_id": event_id, "source_system": "crm",
            "occurred_at": (T0 + timedelta(hours=hours)).isoformat(), **fields}  # fmt: skip
    return parse_event(data if lead is None else data | {"lead_id": lead})


def test_a_lead_lives_its_whole_lifecycle(store: EventStore) -> None:
    plan = [
        msg("touch", "t1", 0, channel="paid_search"),
        msg("lead_created", "c1", 1, origin="inbound", segment="smb", country="DE"),
        msg("score_changed", "s1", 2, score=70),
        msg("stage_changed", "m1", 2, stage="mql"),
        msg("assigned", "a1", 2.5, rep="ann", team="emea"),
        msg("mql_rejected", "r1", 3, reason="too_early"),
        msg("stage_changed", "m2", 200, stage="mql"),
        msg("mql_accepted", "ac2", 201, rep="ann"),
        msg("stage_changed", "q2", 202, stage="sql"),
        msg("sql_confirmed", "qc2", 203, rep="ann"),
        msg("contact_attempted", "ca1", 204, method="call", outcome="connected"),
        msg("deal_opened", "o1", 205, deal_id="D1", amount="5000", currency="EUR"),
        msg("deal_won", "w1", 400, deal_id="D1", amount="5200", currency="EUR"),
        msg("purchase", "p1", 900, kind="renewal", amount="5200", currency="EUR"),
        msg("contraction", "x1", 1800, amount="1000", currency="EUR"),
        msg("churned", "ch1", 2600, reason="budget cut"),
    ]
    outcomes = Ingestor(store).apply(plan)
    assert [o.status for o in outcomes] == ["stored"] * len(plan)
    lead = store.find_lead("L1")
    assert lead is not None
    assert (lead.stage, lead.cycle, lead.rep, lead.deals) == (
        Stage.CHURNED,
        2,
        "ann",
        {"D1": "won"},
    )


def test_refusals_name_the_rule_and_store_nothing(store: EventStore) -> None:
    outcomes = Ingestor(store).apply([
        msg("lead_created", "c1", origin="inbound", entry_stage="sql"),
        msg("lead_created", "c2", origin="outbound", entry_stage="sql"),
        msg("mql_accepted", "a1", rep="ann"),
        msg("spend", "sp1", lead=None, channel="paid_search", day="2026-03-02",
            amount="120.50", currency="EUR"),
    ])  # fmt: skip
    assert [(o.status, o.reason) for o in outcomes] == [
        ("refused", "funnel rule: lead 'L1' may enter at sql only when sales-sourced "
                    "(origin outbound), not inbound"),
        ("stored", None),
        ("refused", "funnel rule: mql_accepted refused: lead 'L1' is at stage sql; "
                    "mql_accepted is allowed at: mql"),
        ("stored", None),
    ]  # fmt: skip
    lead = store.find_lead("L1")
    assert lead is not None
    assert lead.seen_keys == {idempotency_key("crm", "c2")}


def test_long_lived_leads_are_snapshotted_and_load_the_same(store: EventStore) -> None:
    touches = [msg("touch", f"t{i}", i, channel="email") for i in range(120)]
    for start in range(0, len(touches), 25):
        Ingestor(store).apply(touches[start : start + 25])
    lead = store.find_lead("L1")
    assert lead is not None
    assert lead.version == 121
    assert store.snapshots is not None
    snapshots = list(store.snapshots.get(stream_uuid("lead", "L1")))
    assert snapshots, "a stream past SNAPSHOT_EVERY events has a snapshot"
    assert len(lead.seen_keys) == 120


def test_a_concurrent_writer_makes_the_batch_retry_not_fail(database: Database) -> None:
    first, second = open_store(database), open_store(database)
    try:
        Ingestor(first).apply([msg("touch", "t0", channel="email")])
        raced = False
        original_save = first.save

        def save_after_a_rival(*aggregates: Any) -> Any:
            """Another process writes the same lead between our read and our save."""
            nonlocal raced
            if not raced:
                raced = True
                Ingestor(second).apply([msg("touch", "rival", 1, channel="referral")])
            return original_save(*aggregates)

        first.save = save_after_a_rival  # type: ignore[method-assign]
        outcomes = Ingestor(first).apply([msg("touch", "mine", 2, channel="paid_search")])
        assert raced
        assert [o.status for o in outcomes] == ["stored"]
        lead = first.find_lead("L1")
        assert lead is not None
        assert lead.seen_keys == {idempotency_key("crm", e) for e in ("t0", "rival", "mine")}
    finally:
        first.close()
        second.close()


def test_a_v1_event_from_the_walking_skeleton_reads_with_v2_code(store: EventStore) -> None:
    lead_id = stream_uuid("lead", "OLD")
    v1 = [  # exactly as the walking skeleton stored them
        ("leadledger.domain.lead:Lead.Opened", {"lead_key": "OLD", "occurred_at": T0,
         "source_system": "web", "originator_topic": "leadledger.domain.lead:Lead"}),
        ("leadledger.domain.lead:Lead.TouchRecorded", {"lead_key": "OLD", "event_id": "t-old",
         "occurred_at": T0, "source_system": "web", "channel": "email", "source": None,
         "medium": None, "campaign": None, "content": None, "cost": None}),
    ]  # fmt: skip
    stored = []
    for version, (topic, state) in enumerate(v1, start=1):
        body = state | {"originator_id": lead_id.hex, "originator_version": version,
                        "timestamp": T0}  # fmt: skip
        stored.append(StoredEvent(lead_id, version, topic,
                                  json.dumps(body, default=_encode).encode()))  # fmt: skip
    store.recorder.insert_events(stored)
    lead = store.find_lead("OLD")
    assert lead is not None
    assert lead.has_seen("web", "t-old")
    [_, touch] = list(store.events.get(lead_id))
    assert isinstance(touch, Lead.TouchRecorded)
    assert (touch.stream_key, touch.kind, touch.keyword, touch.anonymous_id) == (
        "OLD",
        "online",
        None,
        None,
    )
    assert to_wire(touch)[1]["lead_id"] == "OLD"


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return {"_type_": "datetime_iso", "_data_": value.isoformat()}
    raise TypeError(value)


def test_stored_states_are_what_eventsourcings_json_transcoder_writes(store: EventStore) -> None:
    """The orjson fast path writes and reads the very bytes the json module would."""
    from eventsourcing.persistence import JSONTranscoder

    plain = JSONTranscoder()
    store.register_transcodings(plain)
    outcomes = Ingestor(store).apply([
        msg("touch", "t1", 0, channel="paid_search", campaign="é\u2028\"q\"\n\x01", cost="0.10"),
        msg("lead_created", "c1", 1, origin="outbound", entry_stage="sql", icp_fit=True),
        msg("stage_changed", "p1", 2, stage="opportunity"),
        msg("deal_opened", "o1", 3, deal_id="D1", amount="5000.50", currency="EUR"),
        msg("spend", "s1", 4, lead=None, channel="paid_search", day="2026-03-01",
            amount="12.5", currency="EUR"),
    ])  # fmt: skip
    assert [o.status for o in outcomes] == ["stored"] * 5
    notifications = list(store.ordered_log.select_notifications(start=1, limit=100))
    assert len(notifications) == 7  # two stream openings and five facts
    for notification in notifications:
        stored = inflate(notification.state)
        assert notification.state != stored  # deflated (see leadledger.compression)
        state = plain.decode(stored)
        assert plain.encode(state) == stored
        assert store.mapper.transcoder.encode(state) == stored
        assert store.mapper.transcoder.decode(stored) == state
        assert store.mapper.to_domain_event(notification).__dict__["stream_key"]


def test_states_stored_as_plain_json_read_the_same(database: Database) -> None:
    """A store written before states were deflated (or with compression turned off)."""
    env = database.event_store_env() | {"COMPRESSOR_TOPIC": ""}
    plain, deflating = EventStore(env=env), open_store(database)
    try:
        Ingestor(plain).apply([msg("lead_created", "c1", 0, origin="inbound")])
        Ingestor(deflating).apply([msg("stage_changed", "m1", 1, stage="mql")])
        states = [n.state for n in deflating.ordered_log.select_notifications(start=1, limit=9)]
        assert [s[:1] for s in states] == [b"{", b"{", b"\x01"]
        lead = deflating.find_lead("L1")
        assert lead is not None
        assert lead.has_seen("crm", "c1")
        assert lead.has_seen("crm", "m1")
        assert [deflating.wire(n)[0] for n in deflating.ordered_log.select_notifications(
            start=1, limit=9)] == ["stream_opened", "lead_created", "stage_changed"]  # fmt: skip
    finally:
        plain.close()
        deflating.close()


def test_a_cached_stream_sees_another_writers_events(database: Database) -> None:
    first, second = open_store(database), open_store(database)
    try:
        Ingestor(first).apply([msg("lead_created", "c1", 0, origin="inbound")])
        assert first.find_lead("L1") is not None  # cached now
        Ingestor(second).apply([msg("stage_changed", "m1", 1, stage="mql")])
        outcomes = Ingestor(first).apply([msg("mql_accepted", "a1", 2, rep="ann")])
        assert [o.status for o in outcomes] == ["stored"]  # judged with the rival's MQL
        lead = first.find_lead("L1")
        assert lead is not None
        assert lead.has_seen("crm", "m1")
        assert lead.version == 4
    finally:
        first.close()
        second.close()
