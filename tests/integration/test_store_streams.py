"""Every stream kind is found by a second process: spend, plan targets, visitors, leads.

Issue 11 point 1: the store's set of opened streams read only ``Stream.Opened``, but each
aggregate class stores its opening under its own topic (``Spend.Opened``), so a new process
re-opened existing spend, target and visitor streams from version 1 and crashed.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest

from leadledger.config import Database
from leadledger.ingest import Ingestor
from leadledger.messages import IngestEvent, parse_event
from leadledger.store import EventStore, open_store

T0 = "2026-03-02T09:00:00+00:00"


def spend(event_id: str) -> IngestEvent:
    return parse_event({"type": "spend", "event_id": event_id, "occurred_at": T0,
                        "source_system": "google_ads", "channel": "paid_search",
                        "day": "2026-03-01", "amount": "10", "currency": "EUR"})  # fmt: skip


def target(event_id: str) -> IngestEvent:
    return parse_event({"type": "plan_target", "event_id": event_id, "occurred_at": T0,
                        "source_system": "plan", "period": "2026-Q1", "amount": "1000",
                        "currency": "EUR"})  # fmt: skip


def visit(event_id: str) -> IngestEvent:
    return parse_event({"type": "touch", "event_id": event_id, "occurred_at": T0,
                        "source_system": "web", "channel": "direct",
                        "anonymous_id": "cookie-1"})  # fmt: skip


def lead_touch(event_id: str) -> IngestEvent:
    return parse_event({"type": "touch", "event_id": event_id, "occurred_at": T0,
                        "source_system": "web", "channel": "email", "lead_id": "L1"})  # fmt: skip


KINDS: dict[str, Callable[[str], IngestEvent]] = {
    "spend": spend, "target": target, "visitor": visit, "lead": lead_touch,
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_new_process_appends_to_an_existing_stream(database: Database, kind: str) -> None:
    make = KINDS[kind]
    first = open_store(database)
    try:
        assert [o.status for o in Ingestor(first).apply([make("one")])] == ["stored"]
    finally:
        first.close()
    second = open_store(database)  # a new process: nothing cached
    try:
        outcomes = Ingestor(second).apply([make("one"), make("two")])
        assert [o.status for o in outcomes] == ["duplicate", "stored"]
        assert second.max_position() == 3  # opened, one, two: the stream was not re-opened
    finally:
        second.close()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_two_writers_opening_one_new_stream_both_store(database: Database, kind: str) -> None:
    """Both processes see the stream as new; the loser's retry must find the winner's."""
    make = KINDS[kind]
    first, second = open_store(database), open_store(database)
    first.max_position()  # both stores are open before either writes
    second.max_position()
    try:
        raced = False
        original_save = first.save

        def save_after_a_rival(*aggregates: Any, **kwargs: Any) -> Any:
            nonlocal raced
            if not raced:
                raced = True
                assert [o.status for o in Ingestor(second).apply([make("rival")])] == ["stored"]
            return original_save(*aggregates, **kwargs)

        first.save = save_after_a_rival  # type: ignore[method-assign]
        outcomes = Ingestor(first).apply([make("mine")])
        assert raced
        assert [o.status for o in outcomes] == ["stored"]
        assert _seen(first, kind) == {"rival", "mine"}
    finally:
        first.close()
        second.close()


def _seen(store: EventStore, kind: str) -> set[str]:
    from leadledger.catalogue import ROUTES

    message = KINDS[kind]("probe")
    route = ROUTES[message.type].of(message)
    stream = store.find(route.stream, route.key(message))
    assert stream is not None
    return {json.loads(key)[1] for key in stream.seen_keys}  # [source_system, event_id]
