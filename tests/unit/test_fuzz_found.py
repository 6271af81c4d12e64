"""The engine bugs the fuzz suite found (issue 11, point 4), each pinned by its smallest case.

The fuzz suite (``-m fuzz``) keeps the generated cases; these name each bug on its own, so a
regression says which rule broke in one line.
"""

from pathlib import Path

import pytest

from leadledger.codec import DecodeError, registry
from leadledger.files import read_csv
from leadledger.messages import InvalidEvent, parse_event

TOUCH = {"type": "touch", "event_id": "t1", "occurred_at": "2026-01-02T10:00:00Z",
         "source_system": "web", "channel": "email", "lead_id": "L1"}  # fmt: skip
SCORE = {"type": "score_changed", "event_id": "s1", "occurred_at": "2026-01-02T10:00:00Z",
         "source_system": "web", "lead_id": "L1"}  # fmt: skip


@pytest.mark.parametrize("score", [2**63, -(2**63) - 1, 10**30])
def test_an_integer_beyond_64_bits_is_invalid(score: int) -> None:
    # It used to pass validation and stop ingest (exit 70) when the record was hashed.
    with pytest.raises(InvalidEvent, match="score: Input should be"):
        parse_event(SCORE | {"score": score})


def test_integers_at_the_64_bit_bounds_are_valid() -> None:
    assert parse_event(SCORE | {"score": 2**63 - 1}).model_dump()["score"] == 2**63 - 1
    assert parse_event(SCORE | {"score": -(2**63)}).model_dump()["score"] == -(2**63)


def test_a_nul_in_text_is_invalid() -> None:
    # PostgreSQL refuses NUL in text: the record used to stop ingest on that backend.
    with pytest.raises(InvalidEvent, match=r"touch.campaign: text may not contain NUL"):
        parse_event(TOUCH | {"campaign": "spring\x00"})


def test_other_control_characters_are_stored_as_given() -> None:
    assert parse_event(TOUCH | {"campaign": "\x1b[31m\x07\x7f"}).model_dump()["campaign"] == (
        "\x1b[31m\x07\x7f"
    )


def test_a_reason_quoting_a_field_name_with_nul_can_be_stored() -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse_event(TOUCH | {"x\x00": 1})
    assert str(refused.value) == "touch.x\\x00: Extra inputs are not permitted"


def test_an_avro_frame_with_bytes_after_the_record_is_corrupt() -> None:
    # Bytes left over used to be ignored, so a frame with junk appended, or another type's
    # body under this header, was stored.
    schemas = registry()
    record = parse_event(TOUCH).to_record()
    frame = schemas.encode("touch", record)
    assert schemas.decode(frame)[0] == "touch"
    with pytest.raises(DecodeError, match="corrupt touch body: 2 bytes left over"):
        schemas.decode(frame + b"\x00\x01")


def test_a_csv_file_with_a_byte_order_mark_reads_its_first_column(tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" starts with one; every row used to be invalid ("\ufefftype").
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (",".join(TOUCH) + "\n" + ",".join(TOUCH.values())).encode())
    [record] = read_csv(path)
    assert (record.error, record.origin.rsplit(":", 1)[1]) == (None, "2")


def test_blank_lines_before_the_csv_header_are_skipped(tmp_path: Path) -> None:
    # The first (empty) row used to be the header: every row had "more cells than the header".
    path = tmp_path / "blank.csv"
    path.write_text("\n\n" + ",".join(TOUCH) + "\n" + ",".join(TOUCH.values()) + "\n")
    [record] = read_csv(path)
    assert (record.error, record.origin.rsplit(":", 1)[1]) == (None, "4")


def test_after_a_csv_error_the_reader_skips_the_rest_of_the_record(tmp_path: Path) -> None:
    # A row with a cell past the csv module's limit and, after it, a quoted line break: the
    # reader used to start again inside the quotes and read their tail as a record.
    path = tmp_path / "in.csv"
    header = ",".join(TOUCH) + "\n"
    bad = '"' + "x" * 200_000 + '",t2,2026-01-02T10:00:00Z,web,"two\nlines",L1\n'
    path.write_text(header + bad + ",".join(TOUCH.values()) + "\n")
    huge, good = read_csv(path)
    assert (huge.origin.rsplit(":", 1)[1], huge.error) == (
        "3",
        "undecodable: not CSV (field larger than field limit (131072))",
    )
    assert huge.raw.startswith(b'"xxx')
    assert (good.origin.rsplit(":", 1)[1], good.error) == ("4", None)
