"""Reading ingest records from JSON Lines files, one outcome per line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from leadledger.messages import IngestEvent, InvalidEvent, parse_event


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
    may mix event types (a ``type`` column says which)."""
    path = path.resolve()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            origin = f"{path}:{reader.line_num}"
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(row.values())
            raw = buffer.getvalue().encode()
            data = {k: v for k, v in row.items() if k and v not in ("", None)}
            if None in row:
                yield FileRecord(origin, raw, None, "undecodable: more cells than the header has")
                continue
            try:
                yield FileRecord(origin, raw, parse_event(data), None)
            except InvalidEvent as exc:
                yield FileRecord(origin, raw, None, f"invalid: {exc}")


def read_jsonl(path: Path) -> Iterator[FileRecord]:
    """Records of a JSON Lines file; origins name the absolute path, so reconcile finds them."""
    path = path.resolve()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            origin = f"{path}:{number}"
            try:
                data = json.loads(line)
            except ValueError as exc:
                yield FileRecord(origin, line, None, f"undecodable: not JSON ({exc})")
                continue
            if not isinstance(data, dict):
                kind = type(data).__name__
                yield FileRecord(origin, line, None, f"undecodable: expected an object, got {kind}")
                continue
            try:
                yield FileRecord(origin, line, parse_event(data), None)
            except InvalidEvent as exc:
                yield FileRecord(origin, line, None, f"invalid: {exc}")
