"""The ingest service on eventsourcing's in-memory recorder: pure logic, no database."""

from pathlib import Path

from leadledger.files import read_jsonl
from leadledger.ingest import Ingestor
from leadledger.messages import INGEST_TYPES, IngestEvent
from leadledger.store import EventStore
from tests.expected import SKELETON_RULE, SKELETON_STORE_EVENTS, SKELETON_STORED

DATA = Path(__file__).resolve().parent.parent / "data"


def messages() -> list[IngestEvent]:
    return [r.message for r in read_jsonl(DATA / "skeleton.jsonl") if r.message is not None]


def test_each_message_is_stored_duplicate_or_refused_with_a_reason() -> None:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    outcomes = Ingestor(store).apply(messages())
    statuses = [o.status for o in outcomes]
    assert statuses.count("stored") == SKELETON_STORED
    assert statuses.count("duplicate") == 1
    assert [o.reason for o in outcomes if o.status == "refused"] == [SKELETON_RULE]
    # The refused deal opened no stream for L9.
    assert store.max_position() == SKELETON_STORE_EVENTS
    assert store.find_lead("L9") is None


def test_a_second_delivery_is_all_duplicates_and_stores_nothing() -> None:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    Ingestor(store).apply(messages())
    again = Ingestor(store).apply(messages())
    assert {o.status for o in again} == {"duplicate", "refused"}
    assert store.max_position() == SKELETON_STORE_EVENTS


def test_file_reader_reports_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "touch"\n\n[1, 2]\n{"type": "visit", "event_id": "x"}\n')
    records = list(read_jsonl(path))
    assert [(r.origin.rsplit(":", 1)[1], r.error) for r in records] == [
        ("1", "undecodable: not JSON (Expecting ',' delimiter: line 1 column 17 (char 16))"),
        ("3", "undecodable: expected an object, got list"),
        (
            "4",
            "invalid: record: Input tag 'visit' found using 'type' does not match any of the "
            "expected tags: " + ", ".join(f"'{t}'" for t in INGEST_TYPES),
        ),
    ]
