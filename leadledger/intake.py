"""Intake: every received record ends stored, duplicate, dead-lettered or parked, on record.

Both modes hand their records here. Valid ones go to the :class:`Ingestor`; what it refuses
for a funnel rule is *parked*, not dead-lettered at once, because the fact it depends on
may still be on its way (events arrive late and out of order). The policy, in full:

- a parked fact is retried whenever its stream accepts another fact;
- one still parked ``max_wait`` after it arrived is dead-lettered with its last reason
  (a file ingest ends with one last retry, then dead-letters what is left);
- every record's fate is written to the intake table under its origin (file and line, or
  topic, partition and offset), which ``leadledger reconcile`` counts.

Idempotency: a record's key is ``(source_system, event_id)``, unique across every stream.
Before a batch reaches the event store each key is *claimed* in the ledger for the first
record that carries it (one statement, so two consumers cannot both win). A later record
with that key and the same content is a duplicate; with other content it is dead-lettered
as a conflict, never dropped. A claim survives a crash: when the same origin comes again
(a file ingested again, a Kafka record re-delivered) and its fate was never written, the
store is asked, and an event it already holds was stored by the run that crashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from leadledger.catalogue import ROUTES
from leadledger.domain.stream import idempotency_key
from leadledger.ingest import Ingestor, Outcome, Tally
from leadledger.ledgerdb import DeadLetter, LedgerDB, Parked
from leadledger.messages import IngestEvent, parse_event

WAITED = "(parked until the fact it needs arrived; it never did)"


@dataclass(frozen=True)
class Received:
    """One record as it arrived: where from, its bytes, and the event or why it is invalid."""

    origin: str
    raw: bytes
    message: IngestEvent | None
    error: str | None = None


def slot_of(message: IngestEvent) -> str:
    route = ROUTES[message.type].of(message)
    return f"{route.stream.KIND}:{route.key(message)}"


def key_of(message: IngestEvent) -> str:
    return idempotency_key(message.source_system, message.event_id)


def digest_of(message: IngestEvent) -> str:
    """The content of a record, canonically: equal amounts and instants hash alike."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        raise TypeError(type(value))

    text = orjson.dumps(message.to_record(), default=plain, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:DIGEST_CHARS]


# A key's digest is kept to its first 128 bits: collisions stay out of reach, and every
# ingested record's claim is 32 bytes smaller. Claims written before kept all 64 hex
# characters, so digests are compared on their first DIGEST_CHARS.
DIGEST_CHARS = 32


class Intake:
    def __init__(self, ingestor: Ingestor, ledger: LedgerDB, max_wait: timedelta) -> None:
        self.ingestor = ingestor
        self.ledger = ledger
        self.max_wait = max_wait
        # Origins this intake parked: its tally counts their fates, and its ``finish``
        # dead-letters those still waiting. Records parked by other runs or other paths
        # (HTTP intake, a Kafka consumer) keep their own wait and are not counted here.
        self.parked_here: set[str] = set()

    def take(self, batch: Sequence[Received], tally: Tally) -> list[DeadLetter]:
        """Settle a batch; return the dead letters it made (already recorded in the table)."""
        letters = [
            DeadLetter(r.origin, r.error or "invalid", r.raw) for r in batch if not r.message
        ]
        fates: dict[str, tuple[str, str | None]] = {
            d.origin: ("dead_letter", d.reason) for d in letters
        }
        fresh, settled, conflicts = self._claim([r for r in batch if r.message is not None])
        fates |= settled
        letters.extend(conflicts)
        fates |= {d.origin: ("dead_letter", d.reason) for d in conflicts}
        outcomes = self.ingestor.apply([r.message for r in fresh if r.message is not None])
        to_park: list[Parked] = []
        accepted_slots: set[str] = set()
        now = datetime.now(UTC)
        for record, outcome in zip(fresh, outcomes, strict=True):
            assert record.message is not None
            if outcome.status == "refused":
                event_json = record.message.model_dump_json()
                slot = slot_of(record.message)
                why = outcome.reason or ""
                to_park.append(Parked(record.origin, slot, record.raw, event_json, why, now))
                fates[record.origin] = ("parked", outcome.reason)
            else:
                # The store holding this origin's own claimed event means a run that
                # crashed before writing its fate stored it: stored, not a duplicate.
                fates[record.origin] = ("stored", None)
                if outcome.status == "stored":
                    accepted_slots.add(slot_of(record.message))
        self.ledger.park(to_park)
        self.parked_here.update(p.origin for p in to_park)
        fates |= self._retry(accepted_slots)
        expired = self.ledger.settle(letters, fates, now - self.max_wait, _expired_fate)
        letters.extend(_expired_fate(p)[1] for p in expired)
        fates |= {p.origin: _expired_fate(p)[1].fate for p in expired}
        arrived = {r.origin for r in batch}
        for origin, (status, because) in fates.items():
            if origin in arrived:
                tally.add(status, because)
            elif origin in self.parked_here:  # parked by an earlier batch, settled now
                tally.settle_parked(status, because)
        return letters

    def _claim(
        self, valid: Sequence[Received]
    ) -> tuple[list[Received], dict[str, tuple[str, str | None]], list[DeadLetter]]:
        """Split valid records into those to apply (their origin owns the key and has no
        final fate yet, or takes it over from an owner that never got one), duplicates, and
        conflicts (the key is owned by other content)."""
        claims: dict[str, tuple[str, str]] = {}
        digests: dict[str, str] = {}
        key: dict[str, str] = {}  # origin -> its record's key
        for record in valid:
            assert record.message is not None
            digests[record.origin] = digest_of(record.message)
            key[record.origin] = key_of(record.message)
            claims.setdefault(key[record.origin], (digests[record.origin], record.origin))
        owners = self.ledger.claim_keys(claims)
        known = self.ledger.intake_statuses({owner for _, owner in owners.values()})
        fresh: list[Received] = []
        settled: dict[str, tuple[str, str | None]] = {}
        conflicts: list[DeadLetter] = []
        for record in valid:
            assert record.message is not None
            digest, owner = owners[key[record.origin]]
            if owner == record.origin:
                if known.get(record.origin) in ("stored", "duplicate"):
                    settled[record.origin] = ("duplicate", None)  # delivered again
                else:
                    fresh.append(record)
            elif digest[:DIGEST_CHARS] == digests[record.origin]:
                orphaned = owner not in key and known.get(owner) is None
                if orphaned and self.ledger.take_over(key[record.origin], owner, record.origin):
                    # The owner, not in this batch, never got a fate: its run ended between
                    # the claim and the store. This copy settles the key instead.
                    fresh.append(record)
                else:
                    settled[record.origin] = ("duplicate", None)
            else:
                source, event_id = record.message.source_system, record.message.event_id
                why = (
                    f"conflict: idempotency key (source_system {source!r}, event_id "
                    f"{event_id!r}) is already used by {owner} with different content; a "
                    "correction needs its own event_id"
                )
                conflicts.append(DeadLetter(record.origin, why, record.raw))
        return fresh, settled, conflicts

    def finish(self, tally: Tally) -> list[DeadLetter]:
        """End of this input (a file, a replayed dead letter): retry what is parked once
        more, then dead-letter what this input parked and still waits, and whatever else has
        waited ``max_wait``. Records that others parked keep their own wait."""
        fates = self._retry(set(self.ledger.parked_slots()))
        expired = self.ledger.settle([], fates, datetime.now(UTC) - self.max_wait,
                                     _expired_fate, also=self.parked_here)  # fmt: skip
        letters = [_expired_fate(p)[1] for p in expired]
        fates |= {p.origin: _expired_fate(p)[1].fate for p in expired}
        for origin, (status, reason) in fates.items():
            if origin in self.parked_here:
                tally.settle_parked(status, reason)
        return letters

    def _retry(self, slots: set[str]) -> dict[str, tuple[str, str | None]]:
        """Retry the parked facts of streams that moved, until nothing more is accepted."""
        fates: dict[str, tuple[str, str | None]] = {}
        while slots:
            waiting = self.ledger.parked_in(slots)
            if not waiting:
                break
            outcomes: list[Outcome] = self.ingestor.apply(
                [parse_event_json(p.event_json) for p in waiting]
            )
            done = [p for p, o in zip(waiting, outcomes, strict=True) if o.status != "refused"]
            for parked, outcome in zip(waiting, outcomes, strict=True):
                if outcome.status != "refused":  # held by the store: stored (see take)
                    fates[parked.origin] = ("stored", None)
            self.ledger.unpark([p.origin for p in done])
            slots = {p.slot for p, o in zip(waiting, outcomes, strict=True) if o.status == "stored"}
            slots &= {p.slot for p in self.ledger.parked_in(slots)}
        return fates


def _expired_fate(fact: Parked) -> tuple[str, DeadLetter]:
    """A fact that waited in vain: its key, freed for a corrected re-send, and its letter."""
    letter = DeadLetter(fact.origin, f"{fact.reason} {WAITED}", fact.raw)
    return key_of(parse_event_json(fact.event_json)), letter


def parse_event_json(text: str) -> IngestEvent:
    return parse_event(json.loads(text))
