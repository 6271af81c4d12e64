"""Records the engine could not store, and the accounting that proves none was lost.

Dead letters are listed, shown and re-submitted (corrected, or as they were once the fact
they waited for arrived); reconcile checks received = stored + duplicates + dead-lettered
(+ parked) for a file or the ingest topic. One function per use case, for the CLI and the
HTTP API alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from leadledger.config import Kafka
from leadledger.domain.stream import as_utc
from leadledger.ingest import Tally
from leadledger.ledgerdb import LedgerDB, dead_letters
from leadledger.readmodels import PROJECTION_ORIGIN
from leadledger.store import EventStore

from .errors import NotFound, Unprocessable

AVRO_MAGIC = b"\xc3\x01"  # single-object Avro, as records come from a Kafka topic
ACCOUNTS = ("stored", "duplicate", "dead_letter", "parked")


@dataclass(frozen=True)
class Letter:
    """A dead letter: where the record came from, why it was refused, its bytes, and
    when a corrected record was re-submitted. Times are UTC."""

    id: int
    origin: str
    reason: str
    dead_lettered_at: datetime
    replayed_at: datetime | None
    payload: bytes

    def summary(self) -> dict[str, Any]:
        """As listed (JSON): everything but the bytes."""
        replayed = None if self.replayed_at is None else self.replayed_at.isoformat()
        return {"id": self.id, "origin": self.origin, "reason": self.reason,
                "dead_lettered_at": self.dead_lettered_at.isoformat(),
                "replayed_at": replayed}  # fmt: skip

    def detail(self) -> dict[str, Any]:
        """As shown (JSON): the summary and the bytes, as text if they are UTF-8, else hex."""
        try:
            payload: dict[str, str] = {"text": self.payload.decode("utf-8")}
        except UnicodeDecodeError:
            payload = {"hex": self.payload.hex()}
        return {**self.summary(), "payload": payload}


def list_letters(ledger: LedgerDB) -> list[Letter]:
    """Every dead letter, in the order they were first refused."""
    return [_letter(row) for row in ledger.select(dead_letters)]


def get_letter(ledger: LedgerDB, letter_id: int) -> Letter:
    row = ledger.dead_letter(letter_id)
    if row is None:
        raise NotFound(f"no dead letter {letter_id}")
    return _letter(row)


def replay_letter(
    store: EventStore, ledger: LedgerDB, letter_id: int, corrected: bytes | None = None
) -> Tally:
    """Re-submit dead letter ``letter_id`` through intake and the projections: ``corrected``
    (one JSON object) if given, else the original bytes again. It is marked replayed once
    its record is stored or found a duplicate; a record that still does not parse is
    refused with :class:`Unprocessable` and nothing changes."""
    from leadledger.codec import DecodeError, registry
    from leadledger.files import json_event
    from leadledger.ingest import Ingestor
    from leadledger.intake import Intake, Received
    from leadledger.messages import InvalidEvent, from_record
    from leadledger.pipeline import project_from_store

    letter = get_letter(ledger, letter_id)
    raw = corrected.strip() if corrected is not None else letter.payload
    try:
        avro = raw[:2] == AVRO_MAGIC
        message = from_record(*registry().decode(raw)) if avro else json_event(raw)
    except (ValueError, InvalidEvent, DecodeError) as exc:
        raise Unprocessable(f"the record still does not parse: {exc}") from None
    tally = Tally()
    intake = Intake(Ingestor(store), ledger, max_wait=timedelta(days=365))
    intake.take([Received(f"replay:{letter_id}:{letter.origin}", raw, message)], tally)
    intake.finish(tally)
    if tally.stored or tally.duplicates:
        ledger.mark_replayed(letter_id)
    project_from_store(store, ledger)
    return tally


@dataclass(frozen=True)
class Reconciliation:
    """Where each received record of one source went. ``unfolded`` counts stored events
    that some read model could not fold (left out of it; dead letters ``projection:...``)."""

    source: str
    received: int
    counts: dict[str, int]
    unfolded: int

    @property
    def accounted(self) -> int:
        return sum(self.counts.values())

    @property
    def unaccounted(self) -> int:
        return self.received - self.accounted


def reconcile(ledger: LedgerDB, source: Path | Kafka) -> Reconciliation:
    """Account for every record of a file, or of the Kafka ingest topic: received =
    stored + duplicates + dead-lettered + parked. Records published to the topic are
    accounted for under the topic, not under the file they were read from."""
    if isinstance(source, Kafka):
        from leadledger.kafka import topic_size

        received = topic_size(source, source.ingest_topic)
        prefix = f"{source.ingest_topic}/"
        what = f"topic {source.ingest_topic}"
    else:
        from leadledger.files import read_records

        received = sum(1 for _ in read_records(source))
        prefix = f"{source.resolve()}:"
        what = str(source)
    counts = ledger.intake_counts(prefix)
    return Reconciliation(what, received, counts, ledger.count_dead_letters(PROJECTION_ORIGIN))


def _letter(row: Any) -> Letter:
    replayed = None if row.replayed_at is None else as_utc(row.replayed_at)
    return Letter(row.id, row.origin, row.reason, as_utc(row.dead_lettered_at), replayed,
                  bytes(row.payload))  # fmt: skip
