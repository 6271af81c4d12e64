from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from leadledger.avrogen import all_schemas, render, render_docs
from leadledger.codec import MAGIC, DecodeError, load_schema, registry
from leadledger.messages import INGEST_TYPES

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_fingerprint_is_avro_crc64_little_endian() -> None:
    # The Avro specification's test vector: fingerprint64("null") = 0x63DD24E7CC258F8A.
    assert load_schema('"null"').fingerprint.hex() == "8a8f25cce724dd63"


def test_touch_round_trips_with_its_writer_fingerprint() -> None:
    schemas = registry()
    record = {
        "event_id": "e1",
        "lead_id": "L1",
        "occurred_at": datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
        "recorded_at": None,
        "source_system": "google_ads",
        "channel": "paid_search",
        "source": "google",
        "medium": None,
        "campaign": None,
        "content": None,
        "keyword": None,
        "cost": Decimal("3.2500"),
        "kind": "call",
        "anonymous_id": "cookie-1",
    }
    data = schemas.encode("touch", record)
    assert data[:2] == MAGIC
    assert data[2:10] == schemas.get("touch").fingerprint
    assert schemas.decode(data) == ("touch", record)


def test_every_ingest_type_and_the_engine_event_ship_with_their_own_fingerprint() -> None:
    schemas = registry()
    assert schemas.names == sorted([*INGEST_TYPES, "stream_opened"])
    assert len({schemas.get(n).fingerprint for n in schemas.names}) == len(schemas.names)


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_committed_schema_is_what_the_model_generates(name: str) -> None:
    """schemas/ is generated from leadledger.messages: regenerate with
    `python -m leadledger.avrogen schemas` after changing a model."""
    committed = (SCHEMAS / f"{name}.avsc").read_text(encoding="utf-8")
    assert committed == render(all_schemas()[name])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not Avro single-object encoding"),
        (b'{"type": "touch"}', "expected the marker bytes C3 01"),
        (MAGIC + bytes(8) + b"x", "unknown writer schema fingerprint 0000000000000000"),
    ],
)
def test_undecodable_bytes_get_a_precise_reason(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        registry().decode(data)


def test_truncated_body_names_the_schema() -> None:
    schemas = registry()
    fingerprint = schemas.get("deal_won").fingerprint
    with pytest.raises(DecodeError, match="corrupt deal_won body"):
        schemas.decode(MAGIC + fingerprint + b"\x02")


def test_unknown_event_type_lists_known_ones() -> None:
    with pytest.raises(
        DecodeError, match="unknown event type 'visit'; known types: assigned, churned"
    ):
        registry().encode("visit", {})


def test_the_event_docs_are_generated_from_the_schemas() -> None:
    """docs/events.md: regenerate with `python -m leadledger.avrogen schemas docs/events.md`."""
    docs = SCHEMAS.parent / "docs" / "events.md"
    assert docs.read_text(encoding="utf-8") == render_docs(all_schemas())
