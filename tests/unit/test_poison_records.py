"""One poison record costs one dead letter, never the rest of the input (issue 11, point 2).

Each test puts a record that once stopped ingest (or would hold a whole file in memory)
before a good one, and checks that the bad one gets a precise reason and the good one
still parses.
"""

import json
from pathlib import Path

from kafka.consumer.fetcher import ConsumerRecord

from leadledger.codec import registry
from leadledger.consumers.ingest import decode
from leadledger.files import FileRecord, read_csv, read_jsonl
from leadledger.limits import MAX_NESTING, MAX_RECORD_BYTES

GOOD = {"type": "touch", "event_id": "t1", "occurred_at": "2026-01-02T10:00:00Z",
        "source_system": "web", "channel": "email", "lead_id": "L1"}  # fmt: skip
GOOD_LINE = json.dumps(GOOD).encode()
CSV_HEADER = ",".join(GOOD) + "\n"
CSV_GOOD = ",".join(GOOD.values()) + "\n"


def jsonl(tmp_path: Path, *lines: bytes) -> list[FileRecord]:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return list(read_jsonl(path))


def line_and_error(record: FileRecord) -> tuple[str, str | None]:
    return record.origin.rsplit(":", 1)[1], record.error


def test_deeply_nested_json_is_dead_lettered_and_the_next_line_parses(tmp_path: Path) -> None:
    huge, deep, good = jsonl(tmp_path, b"[" * 200_000, b"{" * 10 + b"}" * 10, GOOD_LINE)
    assert line_and_error(huge) == (
        "1",
        "undecodable: record of 200000 bytes is over the limit of 65536 bytes "
        "(the dead letter keeps its first 65536)",
    )
    assert huge.raw == b"[" * MAX_RECORD_BYTES
    assert line_and_error(deep) == (
        "2",
        f"undecodable: JSON nested deeper than {MAX_NESTING} levels",
    )
    assert line_and_error(good) == ("3", None)


def test_nesting_over_the_bound_within_the_size_bound_is_refused(tmp_path: Path) -> None:
    [bad] = jsonl(tmp_path, b"[" * 1000 + b"]" * 1000)
    assert bad.error == f"undecodable: JSON nested deeper than {MAX_NESTING} levels"
    assert bad.raw == b"[" * 1000 + b"]" * 1000


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    line = json.dumps(GOOD | {"campaign": '[[[[[[[[[[{{{{{{{{{{ \\" [[[[[[[['}).encode()
    [record] = jsonl(tmp_path, line)
    assert record.error is None
    assert record.message is not None


def test_an_over_long_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    huge = b'{"type": "touch", "note": "' + b"x" * (3 * MAX_RECORD_BYTES) + b'"}'
    bad, good = jsonl(tmp_path, huge, GOOD_LINE)
    assert line_and_error(bad) == (
        "1",
        f"undecodable: record of {len(huge)} bytes is over the limit of {MAX_RECORD_BYTES} "
        f"bytes (the dead letter keeps its first {MAX_RECORD_BYTES})",
    )
    assert bad.raw == huge[:MAX_RECORD_BYTES]
    assert line_and_error(good) == ("2", None)


def test_a_line_exactly_at_the_bound_is_read(tmp_path: Path) -> None:
    padded = GOOD_LINE[:-1] + b" " * (MAX_RECORD_BYTES - len(GOOD_LINE)) + b"}"
    assert len(padded) == MAX_RECORD_BYTES
    [record] = jsonl(tmp_path, padded.replace(b"\n", b"") + b"\r")
    assert record.error is None


def test_csv_cell_over_the_field_limit_and_bad_utf8_are_dead_lettered(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        (CSV_HEADER + '"' + "x" * 200_000 + '",a,b,c,d,e\n').encode()
        + b"touch,t2,2026-01-02T10:00:00Z,w\xff\xfeb,email,L1\n"
        + CSV_GOOD.encode()
    )
    huge, not_utf8, good = read_csv(path)
    assert line_and_error(huge) == (
        "2",
        "undecodable: not CSV (field larger than field limit (131072))",
    )
    assert line_and_error(not_utf8) == ("3", "undecodable: not UTF-8")
    assert not_utf8.raw == b"touch,t2,2026-01-02T10:00:00Z,w\xff\xfeb,email,L1"
    assert line_and_error(good) == ("4", None)


def test_csv_row_over_the_size_bound_is_dead_lettered(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    cells = ",".join("y" * 60_000 for _ in GOOD)
    path.write_text(CSV_HEADER + cells + "\n" + CSV_GOOD)
    bad, good = read_csv(path)
    assert bad.error is not None
    assert bad.error.startswith(f"undecodable: record of {len(cells)} bytes is over the limit")
    assert len(bad.raw) == MAX_RECORD_BYTES
    assert good.message is not None


def consumed(value: bytes | None, offset: int = 7) -> ConsumerRecord:
    return ConsumerRecord("ingest", 0, 0, offset, 0, 0, None, value, [], None, 0, 0, 0)


def test_kafka_records_over_the_size_bound_or_undecodable_are_dead_lettered() -> None:
    schemas = registry()
    huge = decode(schemas, consumed(b"\xc3\x01" + b"\0" * (MAX_RECORD_BYTES + 1)))
    assert huge.message is None
    assert huge.error is not None
    assert huge.error.startswith(f"undecodable: record of {MAX_RECORD_BYTES + 3} bytes")
    assert len(huge.raw) == MAX_RECORD_BYTES
    empty = decode(schemas, consumed(None))
    assert empty.error is not None
    assert empty.error.startswith("undecodable: not Avro single-object encoding")
    record = {k: v for k, v in GOOD.items() if k != "type"}
    good = decode(schemas, consumed(schemas.encode("touch", _touch_record(record))))
    assert (good.origin, good.error) == ("ingest/0/7", None)


def _touch_record(fields: dict[str, str]) -> dict[str, object]:
    from leadledger.messages import parse_event

    return parse_event(fields | {"type": "touch"}).to_record()
