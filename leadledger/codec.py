"""Avro encoding of leadledger's events, in Avro's single-object encoding.

Every message starts with the two marker bytes ``C3 01`` and the 8-byte CRC-64-AVRO
fingerprint of the writer schema, then the schemaless Avro body (Avro specification,
"Single-object encoding"). A consumer therefore always knows which writer schema made
the bytes, without a schema registry, and can read old writers with a newer reader.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8
NAMESPACE = "leadledger.events"


class DecodeError(ValueError):
    """Bytes that are not a leadledger event: the reason names what is wrong."""


@dataclass(frozen=True)
class Schema:
    """One writer schema: its short name (the event type), parsed form and fingerprint."""

    name: str
    parsed: dict[str, Any]
    fingerprint: bytes


class SchemaRegistry:
    """The schemas this build can read and write, found by event type or fingerprint."""

    def __init__(self, schemas: Iterable[Schema], writers: Iterable[Schema] = ()) -> None:
        """``schemas`` are the current ones (readers and writers); ``writers`` are released
        versions, still decoded (into the current shape) when old bytes arrive."""
        self._by_name: dict[str, Schema] = {}
        self._by_fingerprint: dict[bytes, Schema] = {}
        for schema in writers:
            self._by_fingerprint[schema.fingerprint] = schema
        for schema in schemas:
            self._by_name[schema.name] = schema
            self._by_fingerprint[schema.fingerprint] = schema

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def get(self, name: str) -> Schema:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.names)
            raise DecodeError(f"unknown event type {name!r}; known types: {known}") from None

    def field_names(self, name: str) -> list[str]:
        return [field["name"] for field in self.get(name).parsed["fields"]]

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Encode ``record`` with the current schema of event type ``name``."""
        schema = self.get(name)
        buffer = io.BytesIO()
        buffer.write(MAGIC)
        buffer.write(schema.fingerprint)
        fastavro.schemaless_writer(buffer, schema.parsed, dict(record))
        return buffer.getvalue()

    def type_of(self, data: bytes) -> str | None:
        """The event type named by ``data``'s header, without decoding the body (None if
        the header is not one of ours): lets a reader skip types it does not fold."""
        writer = self._by_fingerprint.get(data[2:HEADER_SIZE]) if data[:2] == MAGIC else None
        return None if writer is None else writer.name

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Return the event type and record of single-object-encoded ``data``."""
        if len(data) < HEADER_SIZE or data[:2] != MAGIC:
            raise DecodeError(
                "not Avro single-object encoding: expected the marker bytes C3 01 "
                f"and an 8-byte schema fingerprint, got {data[:HEADER_SIZE].hex(' ') or 'no bytes'}"
            )
        writer = self._by_fingerprint.get(data[2:HEADER_SIZE])
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {data[2:HEADER_SIZE].hex()}")
        reader = self._by_name.get(writer.name)
        if reader is None:  # a released writer of a type this build no longer reads
            raise DecodeError(f"event type {writer.name!r} is no longer read by this build")
        # Resolving a writer against an identical reader costs a third of decoding: skip it.
        resolve = None if reader is writer else reader.parsed
        body = io.BytesIO(data[HEADER_SIZE:])
        try:
            record = fastavro.schemaless_reader(body, writer.parsed, resolve)
        except Exception as exc:  # fastavro raises many types for truncated or corrupt bodies
            raise DecodeError(f"corrupt {writer.name} body: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError(f"{writer.name} body did not decode to a record")
        # The body is exactly one record: bytes left over mean a corrupt frame, or the body
        # of another type under this header, which would otherwise be stored as this type.
        if left := len(data) - HEADER_SIZE - body.tell():
            raise DecodeError(
                f"corrupt {writer.name} body: {left} bytes left over after the record"
            )
        return writer.name, record


def load_schema(text: str) -> Schema:
    """Parse one ``.avsc`` document into a :class:`Schema`."""
    parsed = parse_schema(json.loads(text))
    digest = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    if not isinstance(parsed, dict):  # a primitive such as "null" is named by itself
        return Schema(str(parsed), {"type": parsed}, digest)
    return Schema(str(parsed["name"]).rsplit(".", 1)[-1], parsed, digest)


@cache
def registry() -> SchemaRegistry:
    """The registry of the ``.avsc`` files shipped in ``leadledger/schemas``."""
    folder = resources.files("leadledger") / "schemas"
    current = [
        load_schema(entry.read_text(encoding="utf-8"))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".avsc")
    ]
    history = folder / "history"
    released = [
        load_schema(version.read_text(encoding="utf-8"))
        for kind in (sorted(history.iterdir(), key=lambda e: e.name) if history.is_dir() else [])
        for version in sorted(kind.iterdir(), key=lambda e: e.name)
        if version.name.endswith(".avsc")
    ]
    return SchemaRegistry(current, released)
