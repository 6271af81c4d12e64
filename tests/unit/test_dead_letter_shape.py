"""How a dead letter is shown to the CLI's and the API's readers: times in UTC with their
offset, and the bytes as text when they are UTF-8, else as hex (never mangled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from leadledger.app.deadletters import Letter

AT = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_text_payload_and_times() -> None:
    letter = Letter(7, "in.jsonl:3", "undecodable: not JSON", AT, None, b"not json \xe2\x82\xac")
    assert letter.summary() == {
        "id": 7, "origin": "in.jsonl:3", "reason": "undecodable: not JSON",
        "dead_lettered_at": "2026-03-01T10:00:00.123456+00:00", "replayed_at": None,
    }  # fmt: skip
    assert letter.detail() == letter.summary() | {"payload": {"text": "not json \u20ac"}}


def test_bytes_that_are_not_utf8_are_shown_as_hex() -> None:
    later = AT.astimezone(timezone(timedelta(hours=2))) + timedelta(hours=1)
    letter = Letter(8, "ingest/0/5", "undecodable: not Avro", AT, later, b"\xc3\x01\xff\x00")
    assert letter.detail()["payload"] == {"hex": "c301ff00"}
    assert letter.detail()["replayed_at"] == later.isoformat()
