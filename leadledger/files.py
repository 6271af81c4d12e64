"""Reading ingest records from JSON Lines and CSV files, one outcome per record.

Every record ends as an event or as an error that becomes its dead letter: no record, however
malformed, stops the file (see :mod:`leadledger.limits` for the bounds on one record).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from leadledger.limits import MAX_RECORD_BYTES, too_deep, too_large
from leadledger.messages import IngestEvent, InvalidEvent, parse_event, printable

CHUNK = 1 << 20  # bytes read at a time while skipping the rest of an over-long line


@dataclass(frozen=True)
class FileRecord:
    """One non-blank line: its origin (file:line), raw bytes, and the event or the error."""

    origin: str
    raw: bytes
    message: IngestEvent | None
    error: str | None


def read_records(path: Path) -> Iterator[FileRecord]:
    """Records of a JSON Lines or CSV file (by its suffix)."""
    return read_csv(path) if path.suffix.lower() == ".csv" else read_jsonl(path)


def read_csv(path: Path) -> Iterator[FileRecord]:
    """Records of a CSV file with a header row; empty cells are absent fields, so one file
    may mix event types (a ``type`` column says which).

    Bytes that are not UTF-8 are carried through (``surrogateescape``) so that only the
    rows holding them are refused, and the dead letter keeps the bytes as they were.
    """
    path = path.resolve()
    # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's
    # name; it used to make every row of such a file invalid.
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        lines = _Lines(handle)
        reader = csv.DictReader(lines)
        while True:
            lines.record = []
            try:
                _skip_blank_lines_before_the_header(reader)
                lines.record = []  # the header's lines are not the first row's
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a cell over the csv module's field limit
                text = lines.rest_of_record()
                raw = text.encode("utf-8", errors="surrogateescape")[:MAX_RECORD_BYTES]
                yield FileRecord(
                    f"{path}:{lines.count}", raw, None, f"undecodable: not CSV ({exc})"
                )
                continue
            yield _settle(f"{path}:{lines.count}", _csv_raw(row), partial(_csv_event, row))


class _Lines:
    """The file's lines as the csv module reads them, counted, with the lines of the record
    being read: after a csv error the reader would start again at the next line, which
    may be inside the record's quoted line break, and read the rest as records of its own."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.count = 0
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.count += 1
        self.record.append(line)
        return line

    def rest_of_record(self) -> str:
        """The failed record's text (its first ``MAX_RECORD_BYTES`` characters), read on to
        its end: the line where its quotes close (a doubled quote inside a quoted cell
        counts twice, so the count stays even)."""
        text = "".join(self.record)[: MAX_RECORD_BYTES + 1]
        quotes = sum(line.count('"') for line in self.record)
        while quotes % 2:
            line = next(self.handle, None)
            if line is None:
                break
            self.count += 1
            quotes += line.count('"')
            if len(text) <= MAX_RECORD_BYTES:
                text += line[: MAX_RECORD_BYTES + 1 - len(text)]
        self.record = []
        return text


def _skip_blank_lines_before_the_header(reader: csv.DictReader[str]) -> None:
    """Take the first row that is not blank as the header. ``DictReader`` takes the first
    row, even an empty one: a file starting with a blank line had no columns, and every
    row was dead-lettered for having more cells than the header."""
    while reader.fieldnames == []:
        reader.fieldnames = next(reader.reader, None)


def _csv_raw(row: dict[Any, Any]) -> bytes:
    cells = [*(v for k, v in row.items() if k is not None), *(row.get(None) or [])]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue().encode("utf-8", errors="surrogateescape")


def _csv_event(row: dict[Any, Any]) -> IngestEvent:
    if None in row:
        raise Undecodable("undecodable: more cells than the header has")
    if any(_not_utf8(v) for v in row.values()) or any(_not_utf8(k) for k in row):
        raise Undecodable("undecodable: not UTF-8")
    return parse_event({k: v for k, v in row.items() if k and v not in ("", None)})


def _not_utf8(text: Any) -> bool:
    return isinstance(text, str) and any("\udc80" <= c <= "\udcff" for c in text)


def read_jsonl(path: Path) -> Iterator[FileRecord]:
    """Records of a JSON Lines file; origins name the absolute path, so reconcile finds them.

    Lines are read at most ``MAX_RECORD_BYTES`` at a time: a longer line is refused and
    skipped without being held in memory whole.
    """
    path = path.resolve()
    with path.open("rb") as handle:
        for number, (line, size) in enumerate(_lines(handle), start=1):
            if not line.strip():
                continue
            origin = f"{path}:{number}"
            if size > MAX_RECORD_BYTES:
                yield FileRecord(origin, line[:MAX_RECORD_BYTES], None, too_large(size))
                continue
            yield json_record(origin, line)


def _lines(handle: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """Each line without its line end, cut to just over the bound, and its full size."""
    while raw := handle.readline(MAX_RECORD_BYTES + 2):  # room for the bound and \r\n
        size, tail = len(raw), raw
        if not raw.endswith(b"\n"):  # over-long (or the last line): count the rest, keep none
            while rest := handle.readline(CHUNK):
                size, tail = size + len(rest), rest
                if rest.endswith(b"\n"):
                    break
        size -= len(tail) - len(tail.rstrip(b"\r\n"))
        yield raw.rstrip(b"\r\n"), size


def json_record(origin: str, raw: bytes) -> FileRecord:
    """One JSON record (a file's line, or a record of an HTTP batch): its event, or why it
    is not one."""
    return _settle(origin, raw, partial(json_event, raw))


def json_event(line: bytes) -> IngestEvent:
    """The event of one JSON record (a line, or a corrected dead letter), within the bounds;
    raises :class:`Undecodable` or :class:`InvalidEvent` saying why it is not one."""
    if len(line) > MAX_RECORD_BYTES:
        raise Undecodable(too_large(len(line)))
    if deep := too_deep(line):
        raise Undecodable(deep)
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        # orjson refuses a few texts the json module reads (NaN, integers past 64 bits,
        # lone surrogates): the json module decides, and words the reason as before.
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise Undecodable(f"undecodable: not JSON ({exc})") from None
        if _lone_surrogate(data):  # valid JSON, but no text: it cannot be stored or keyed
            raise Undecodable(
                "undecodable: a string holds a lone surrogate (\\ud800-\\udfff), which is "
                "not Unicode text"
            ) from None
    if not isinstance(data, dict):
        raise Undecodable(f"undecodable: expected an object, got {type(data).__name__}")
    return parse_event(data)


def _lone_surrogate(value: Any) -> bool:
    """Whether any string in ``value`` (keys included) holds a lone UTF-16 surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


class Undecodable(ValueError):
    """A record refused before validation; the message is its dead-letter reason."""


def _settle(origin: str, raw: bytes, decode: Callable[[], IngestEvent]) -> FileRecord:
    """The record of ``raw``: its event, or the reason it cannot be one.

    Anything a single record's bytes make the decoder or validator raise is that record's
    dead letter, not the end of the file: the last ``except`` names the exception so the
    reason still says what went wrong.
    """
    if len(raw) > MAX_RECORD_BYTES:
        return FileRecord(origin, raw[:MAX_RECORD_BYTES], None, too_large(len(raw)))
    try:
        return FileRecord(origin, raw, decode(), None)
    except Undecodable as exc:
        return FileRecord(origin, raw, None, str(exc))
    except InvalidEvent as exc:
        return FileRecord(origin, raw, None, f"invalid: {exc}")
    except Exception as exc:  # one record's failure is its dead letter, not the file's end
        why = printable(f"{type(exc).__name__}: {exc}")
        return FileRecord(origin, raw, None, f"undecodable: {why}")
