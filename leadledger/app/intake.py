"""Intake of a batch of records sent over HTTP (webhooks of systems that cannot speak Kafka):
each record checked by the same code as a file's line (``files.json_record``) and answered
with its idempotency key and fate.

Embedded mode settles the batch through ``leadledger.intake`` like ``ingest`` does, and
brings the read models up to date; a fact refused for now is parked and waits for the fact
it depends on (a later batch), as on the Kafka path. Kafka mode publishes the valid records
to the ingest topic like ``leadledger publish``; their fates are then written by
``run ingest`` and read with ``records.fate``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from leadledger.app.errors import Unprocessable
from leadledger.app.records import http_origin
from leadledger.domain.stream import idempotency_key
from leadledger.files import FileRecord, json_record
from leadledger.ingest import Ingestor, Tally
from leadledger.intake import Intake, Received
from leadledger.ledgerdb import LedgerDB, intake
from leadledger.limits import MAX_BATCH_RECORDS

if TYPE_CHECKING:
    from leadledger.publisher import Publisher
    from leadledger.store import EventStore

PARK_WAIT = timedelta(seconds=300)  # as ``run ingest --park-seconds``' default


@dataclass(frozen=True)
class Answer:
    """One record's answer: its place in the batch, its key (None if it carries none), the
    origin its fate is kept under, the fate, and why (parked, dead-lettered, not sent)."""

    index: int
    source_system: str | None
    event_id: str | None
    origin: str | None
    fate: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "source_system": self.source_system,
                "event_id": self.event_id, "origin": self.origin, "fate": self.fate,
                "reason": self.reason}  # fmt: skip


def parse(body: bytes) -> list[FileRecord]:
    """The records of a request body, a JSON array of records: each one valid, or invalid
    with its reason (then dead-lettered, never the batch's end). A body that is not a JSON
    array, or holds too many records, is ``Unprocessable`` and refused whole (the request's
    bytes are bounded before it is read: ``limits.MAX_BATCH_BYTES``)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Unprocessable(f"the body is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise Unprocessable(f"the body must be a JSON array of records, got {type(data).__name__}")
    if len(data) > MAX_BATCH_RECORDS:
        raise Unprocessable(
            f"{len(data)} records is over the limit of {MAX_BATCH_RECORDS} per request"
        )
    batch = uuid.uuid4().hex
    return [json_record(http_origin(_key(item), batch, i), _bytes(item))
            for i, item in enumerate(data)]  # fmt: skip


def _key(item: Any) -> str | None:
    if isinstance(item, dict):
        source, event_id = item.get("source_system"), item.get("event_id")
        if isinstance(source, str) and isinstance(event_id, str):
            try:
                return idempotency_key(source, event_id)
            except TypeError:  # a lone surrogate: no key; json_record dead-letters the record
                return None
    return None


def _bytes(item: Any) -> bytes:
    """A record's bytes as its dead letter keeps them: compact JSON, non-ASCII escaped (a
    lone surrogate cannot be UTF-8)."""
    return json.dumps(item, separators=(",", ":")).encode()


def _named(item: FileRecord) -> tuple[str | None, str | None]:
    if item.message is not None:
        return item.message.source_system, item.message.event_id
    try:
        raw = json.loads(item.raw)
    except ValueError:
        return None, None
    if not isinstance(raw, dict):
        return None, None
    return _text(raw.get("source_system")), _text(raw.get("event_id"))


def _text(value: Any) -> str | None:
    """``value`` if it is a string an answer can carry (no lone surrogate), else None."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def store(
    records: list[FileRecord], event_store: EventStore, ledger: LedgerDB,
    max_wait: timedelta = PARK_WAIT,
) -> list[Answer]:  # fmt: skip
    """Embedded mode: settle ``records`` (stored, duplicate, parked, dead-lettered), bring the
    read models up to date, and answer each with the fate the intake table now holds."""
    from leadledger.pipeline import project_from_store

    received = [Received(r.origin, r.raw, r.message, r.error) for r in records]
    Intake(Ingestor(event_store), ledger, max_wait).take(received, Tally())
    project_from_store(event_store, ledger)
    origins = [r.origin for r in records]
    fates = {row.origin: row for row in ledger.select(intake, intake.c.origin.in_(origins))}
    answers = []
    for index, record in enumerate(records):
        row = fates.get(record.origin)
        fate, reason = (row.status, row.reason) if row is not None else ("pending", None)
        answers.append(Answer(index, *_named(record), record.origin, fate, reason))
    return answers


def publish(records: list[FileRecord], publisher: Publisher) -> list[Answer]:
    """Kafka mode: publish the valid records to the ingest topic (``accepted``, or
    ``failed`` with the broker's error); an invalid one is ``invalid`` and not sent, as
    ``leadledger publish`` does with an invalid line."""
    valid = [r.message for r in records if r.message is not None]
    report = publisher.publish(valid)
    failed = dict(report.failed)
    answers = []
    for index, record in enumerate(records):
        source, event_id = _named(record)
        if record.message is None:
            answers.append(Answer(index, source, event_id, None, "invalid", record.error))
        elif record.message.event_id in failed:
            answers.append(Answer(index, source, event_id, None, "failed",
                                  failed[record.message.event_id]))  # fmt: skip
        else:
            answers.append(Answer(index, source, event_id, None, "accepted", None))
    return answers
