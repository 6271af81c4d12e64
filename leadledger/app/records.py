"""The fate of records: one record's by its idempotency key, and the fates counted by
origin prefix (``app.deadletters`` lists the dead letters themselves). Fates are kept per
origin (file:line, topic/partition/offset, or an HTTP batch's record) in the intake table;
a key's owner in the keys table; a parked fact and a dead letter keep the record's bytes
(see ``leadledger.intake``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from leadledger.app.errors import NotFound
from leadledger.codec import registry
from leadledger.domain.stream import idempotency_key
from leadledger.ledgerdb import LedgerDB, dead_letters, intake, keys, parked
from leadledger.readmodels import PROJECTION_ORIGIN

HTTP_ORIGIN = "http:"
"""Origins of records taken by HTTP intake: ``http:<key>#<batch>/<index>``, so every
delivery of a key over HTTP is found by its prefix (a duplicate included)."""
AVRO_MARKER = b"\xc3\x01"


def http_origin(key: str | None, batch: str, index: int) -> str:
    """The origin of record ``index`` of HTTP batch ``batch``; ``key`` None when the record
    does not even carry one."""
    return f"{HTTP_ORIGIN}{key or '-'}#{batch}/{index}"


@dataclass(frozen=True)
class Delivery:
    """One arrival of a record: where from, its fate, and why (parked or dead-lettered)."""

    origin: str
    fate: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "fate": self.fate, "reason": self.reason}


@dataclass(frozen=True)
class Fate:
    """What became of the record with one idempotency key.

    ``fate`` is the key's: ``stored`` (the store holds it), ``parked`` (waiting for the fact
    it depends on), ``dead_letter`` (no copy was stored; ``reason`` says why), or
    ``pending`` (claimed by a delivery whose fate is not written yet). ``deliveries`` lists
    each arrival known: the copy that owns the key, HTTP deliveries (``duplicate`` ones
    too), and dead-lettered copies (a conflict, an invalid copy, a fact that waited in vain).
    """

    source_system: str
    event_id: str
    fate: str
    reason: str | None
    deliveries: list[Delivery]

    def to_json(self) -> dict[str, Any]:
        return {"source_system": self.source_system, "event_id": self.event_id,
                "fate": self.fate, "reason": self.reason,
                "deliveries": [d.to_json() for d in self.deliveries]}  # fmt: skip


def fate(ledger: LedgerDB, source_system: str, event_id: str) -> Fate:
    """The fate of the record ``(source_system, event_id)``; ``NotFound`` if no delivery of
    it ever arrived (or, in Kafka mode, none has been consumed yet)."""
    key = idempotency_key(source_system, event_id)
    owner = next(iter(ledger.select(keys, keys.c.key == key)), None)
    found: dict[str, Delivery] = {}
    if owner is not None:
        found[owner.origin] = _delivery(ledger, owner.origin)
    prefix = f"{HTTP_ORIGIN}{key}#"
    for row in ledger.select(intake, intake.c.origin.startswith(prefix, autoescape=True)):
        found.setdefault(row.origin, _delivery(ledger, row.origin, row))
    for letter in _letters_of(ledger, source_system, event_id):
        found.setdefault(letter.origin, Delivery(letter.origin, "dead_letter", letter.reason))
    if not found:
        raise NotFound(
            f"no record with source_system {source_system!r} and event_id {event_id!r} has "
            "arrived (in Kafka mode: or none has been consumed from the ingest topic yet)"
        )
    deliveries = sorted(found.values(), key=lambda d: d.origin)
    if owner is not None:
        head = found[owner.origin]
    else:  # no copy holds the key (never stored, or freed when a parked copy expired)
        letters = [d for d in deliveries if d.fate == "dead_letter"]
        head = letters[-1] if letters else deliveries[-1]
    return Fate(source_system, event_id, head.fate, head.reason, deliveries)


def _delivery(ledger: LedgerDB, origin: str, row: Any = None) -> Delivery:
    row = row or next(iter(ledger.select(intake, intake.c.origin == origin)), None)
    if row is None:
        return Delivery(origin, "pending", None)
    reason = row.reason
    if row.status == "parked":
        waiting = next(iter(ledger.select(parked, parked.c.origin == origin)), None)
        reason = waiting.reason if waiting is not None else reason
    return Delivery(origin, row.status, reason)


def _letters_of(ledger: LedgerDB, source_system: str, event_id: str) -> list[Any]:
    """The dead letters (not a read model's) whose record carries the key. Their bytes are
    read one by one: a lookup costs a scan of the dead letters, which are few."""
    found = []
    where = ~dead_letters.c.origin.startswith(PROJECTION_ORIGIN, autoescape=True)
    for letter in ledger.select(dead_letters, where):
        record = _record(bytes(letter.payload))
        if record.get("source_system") == source_system and record.get("event_id") == event_id:
            found.append(letter)
    return found


def _record(payload: bytes) -> dict[str, Any]:
    """The fields of a dead letter's bytes (JSON or Avro), or nothing if they do not decode."""
    try:
        if payload[:2] == AVRO_MARKER:
            return registry().decode(payload)[1]
        data = json.loads(payload)
    except Exception:  # undecodable bytes are why it is a dead letter: no key to match
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Counts:
    """The fates of the records whose origins start with a prefix, and how many stored
    events no read model could fold (dead letters of origin ``projection:...``)."""

    prefix: str
    stored: int
    duplicate: int
    dead_letter: int
    parked: int
    unfolded: int

    @property
    def accounted(self) -> int:
        return self.stored + self.duplicate + self.dead_letter + self.parked

    def to_json(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "stored": self.stored, "duplicate": self.duplicate,
                "dead_letter": self.dead_letter, "parked": self.parked,
                "accounted": self.accounted, "unfolded": self.unfolded}  # fmt: skip


def counts(ledger: LedgerDB, prefix: str) -> Counts:
    """Reconcile's accounting of the records from one origin prefix (a file's path and a
    colon, a topic's name and a slash, ``http:``; empty: every record)."""
    found = ledger.intake_counts(prefix)
    return Counts(prefix, found.get("stored", 0), found.get("duplicate", 0),
                  found.get("dead_letter", 0), found.get("parked", 0),
                  ledger.count_dead_letters(PROJECTION_ORIGIN))  # fmt: skip
